"""The live dashboard at ``/``: a static page (``api/dashboard/``) that draws with the
plotly.js bundle of the installed ``plotly`` wheel, fed by ``GET /dashboard/data`` and
``WS /dashboard/ws``.

:class:`DashboardFeed` listens to the hosted pipeline and keeps the latest outputs of the
streams the page shows in bounded rings; a snapshot is what the page draws. No build
step and nothing fetched at run time: the page, its script and plotly.js are files of
installed packages.

Examples
--------
>>> from shopstream.events.records import Output
>>> from shopstream.events.insights import RevenueStats
>>> feed = DashboardFeed()
>>> feed.learn(Output("revenue-stats", "all", RevenueStats(0, 60_000, 42.0, 2, 21.0, 2,
...                                                        None, None)))
>>> feed.snapshot()["revenue"][0]["orderCount"], feed.version
(2, 1)
>>> from shopstream.events.patterns import AntecedentRules, RuleSummary
>>> feed.learn(Output("rules-by-antecedent", "p1", AntecedentRules(
...     ("p1",), (RuleSummary("p3", 0.5, 1.0, 2.0, 0.25, 2),), 0)))
>>> rules = feed.snapshot()["rules"]
>>> rules["count"], rules["strongest"][0]["consequent"]
(1, 'p3')
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
from collections import deque
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from shopstream.events import streams
from shopstream.events.records import Output

try:
    import fastapi
    from fastapi import WebSocket, WebSocketDisconnect
    from fastapi.responses import FileResponse, Response
except ImportError:  # pragma: no cover - depends on the installation
    from shopstream.errors import require

    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["DashboardFeed", "dashboard_router", "plotly_bundle"]

_encode = msgspec.json.Encoder().encode
#: How many records of each stream the page keeps (revenue: an hour of minutes).
_KEEP = {streams.REVENUE_STATS: 60, streams.FRAUD_ALERTS: 20, streams.CART_ABANDONMENT: 20,
         streams.PRODUCT_RECOMMENDATIONS: 20, streams.SHOPPER_FEATURES: 20,
         streams.TRENDING_PRODUCTS: 5, streams.TOP_PRODUCTS: 5}
_NAMES = {streams.REVENUE_STATS: "revenue", streams.FRAUD_ALERTS: "fraud",
          streams.CART_ABANDONMENT: "abandoned",
          streams.PRODUCT_RECOMMENDATIONS: "recommendations",
          streams.SHOPPER_FEATURES: "activity", streams.TRENDING_PRODUCTS: "trending",
          streams.TOP_PRODUCTS: "top"}
#: Antecedents whose rules the page keeps (the oldest updated go first beyond it), and
#: how many of the strongest rules it lists.
_MAX_ANTECEDENTS = 10_000
_STRONGEST = 10
_PAGE_DIR = Path(str(resources.files("shopstream.api") / "dashboard"))
_PUSH_EVERY_S = 0.25


class DashboardFeed:
    """The latest outputs the dashboard shows, in bounded rings; fed from the pipeline
    thread by :meth:`learn`, read from the event loop by :meth:`snapshot`."""

    def __init__(self) -> None:
        self._rings: dict[str, deque[Any]] = {s: deque(maxlen=n) for s, n in _KEEP.items()}
        self._lock = threading.Lock()
        self.version = 0
        self.dead_letters = 0
        # The current rules of each antecedent (rules-by-antecedent carries them whole).
        self._rules: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.rule_count = 0

    def learn(self, out: Output) -> None:
        """Keep ``out`` if the page shows its stream."""
        if out.stream == streams.DEAD_LETTER:
            self.dead_letters += 1
            self.version += 1
            return
        if out.stream == streams.RULES_BY_ANTECEDENT:
            self._learn_rules(out.record)
            return
        ring = self._rings.get(out.stream)
        if ring is None:
            return
        record = msgspec.to_builtins(out.record)
        with self._lock:
            ring.append(record)
            self.version += 1

    def _learn_rules(self, record: Any) -> None:
        key = tuple(record.antecedents)
        rules = [{"antecedents": list(key), "consequent": r.consequent,
                  "confidence": r.confidence, "lift": r.lift, "support": r.support,
                  "count": r.count} for r in record.rules]
        with self._lock:
            old = self._rules.pop(key, None)
            self.rule_count -= len(old) if old else 0
            if rules:
                self._rules[key] = rules  # re-inserted: the newest at the end
                self.rule_count += len(rules)
            while len(self._rules) > _MAX_ANTECEDENTS:
                self.rule_count -= len(self._rules.pop(next(iter(self._rules))))
            self.version += 1

    def snapshot(self) -> dict[str, Any]:
        """Every ring, oldest first, under the page's names, and the rules: how many and
        the strongest (by lift, then confidence). Cost: one pass over the kept rules."""
        with self._lock:
            body: dict[str, Any] = {_NAMES[s]: list(ring) for s, ring in self._rings.items()}
            strongest = heapq.nlargest(
                _STRONGEST, (r for rules in self._rules.values() for r in rules),
                key=lambda r: (r["lift"], r["confidence"]))
            body["rules"] = {"count": self.rule_count, "antecedents": len(self._rules),
                             "strongest": strongest}
            return body


def plotly_bundle() -> Path:
    """The ``plotly.min.js`` shipped inside the installed ``plotly`` wheel."""
    try:
        folder = resources.files("plotly") / "package_data"
    except ModuleNotFoundError:  # pragma: no cover - depends on the installation
        from shopstream.errors import require

        require("plotly", "shopstream[serve]")
        raise
    return Path(str(folder / "plotly.min.js"))


def dashboard_router(state: Any) -> Any:
    """The page, its script, plotly.js, the data snapshot and the live feed of ``state``
    (a :class:`~shopstream.api.app.ServeState`)."""
    feed = DashboardFeed()
    if state.live is not None:
        state.live.listeners.append(feed.learn)
    router = fastapi.APIRouter(tags=["dashboard"])
    rate = _Rate()

    def data() -> dict[str, Any]:
        return _dashboard_data(state, feed, rate)

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(_PAGE_DIR / "index.html", media_type="text/html")

    @router.get("/static/dashboard.js", include_in_schema=False)
    async def script() -> FileResponse:
        return FileResponse(_PAGE_DIR / "dashboard.js", media_type="text/javascript")

    @router.get("/static/plotly.min.js", include_in_schema=False)
    async def plotly() -> FileResponse:
        return FileResponse(plotly_bundle(), media_type="text/javascript")

    @router.get("/dashboard/data", summary="What the dashboard shows, now")
    async def snapshot() -> Response:
        """Latest revenue windows, trending and top products, fraud alerts, abandoned
        carts, recommendations, shopper activity, the rule count and strongest rules,
        and pipeline health (events/s, watermark lag, dead letters, checkpoint age)."""
        return Response(_encode(data()), media_type="application/json")

    @router.websocket("/dashboard/ws")
    async def live_feed(socket: WebSocket) -> None:
        """A snapshot at once, then one whenever an output arrives (and every second for
        the health figures)."""
        await socket.accept()
        seen, last = -1, 0.0
        try:
            while True:
                now = time.monotonic()
                if feed.version != seen or now - last >= 1.0:
                    seen, last = feed.version, now
                    await socket.send_text(_encode(data()).decode())
                await asyncio.sleep(_PUSH_EVERY_S)
        except (WebSocketDisconnect, RuntimeError):
            pass

    return router



def _dashboard_data(state: Any, feed: DashboardFeed, rate: _Rate) -> dict[str, Any]:
    """The feed's snapshot and the pipeline's health figures (events/s, watermark lag,
    dead letters, late events, checkpoint age)."""
    body = feed.snapshot()
    live = state.live
    lag = None
    if live is not None and live.engine.max_timestamp_ms > 0:
        lag = round(time.time() - live.engine.max_timestamp_ms / 1000, 1)
    events = live.events_processed if live is not None else 0
    checkpoints = getattr(live, "checkpoints", None)
    age = checkpoints.status()["ageSeconds"] if checkpoints is not None else None
    body["health"] = {
        "events": events, "eventsPerSecond": rate.sample(events),
        "watermarkLagSeconds": lag,
        "deadLetters": (live.rejected if live is not None else 0) + feed.dead_letters,
        "lateEvents": live.engine.late_events if live is not None else 0,
        "waiting": live.waiting if live is not None else 0,
        "checkpoints": checkpoints is not None, "checkpointAgeSeconds": age,
        "pipeline": live is not None, "now": int(time.time() * 1000)}
    return body


class _Rate:
    """Events per second between two samples at least a second apart."""

    def __init__(self) -> None:
        self._at = time.monotonic()
        self._count = 0
        self._rate = 0.0

    def sample(self, count: int) -> float:
        now = time.monotonic()
        if now - self._at >= 1.0:
            self._rate = round((count - self._count) / (now - self._at), 1)
            self._at, self._count = now, count
        return self._rate
