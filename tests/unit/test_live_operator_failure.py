"""A failing operator in the pipeline ``serve`` hosts is a failure that shows (issue 19):
the pipeline stops instead of skipping the element, /health answers 503 naming the
operator, /metrics has ``shopstream_pipeline_failed 1``, the log has the traceback, and
new events are refused (503) until a restart. Store errors still only count."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopstream.api.app import ServeState
from shopstream.api.live import LiveConfig, LivePipeline, PipelineFailedError
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.baskets import BasketTracker
from shopstream.runners.embedded.engine import Engine
from shopstream.state.protocols import Context
from shopstream.stores.embedded import SqliteStore
from shopstream.topology import Stage, Topology


class _Boom(RuntimeError):
    pass


class FailingBaskets(BasketTracker):
    """The basket tracker, raising on the product ``boom``."""

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        if element.product_id == "boom":
            msg = "cannot handle product boom"
            raise _Boom(msg)
        return super().process_element(element, ctx)


def _line(product: str, session: str = "s1") -> bytes:
    now = int(time.time() * 1000)
    return (b'{"eventType":"ADD_TO_CART","sessionId":"%s","userId":"u1","timestamp":%d,'
            b'"productId":"%s","price":2.0}' % (session.encode(), now, product.encode()))


def _live(store: SqliteStore) -> LivePipeline:
    live = LivePipeline(store, LiveConfig(out_of_orderness_ms=0, idle_ms=10))
    stages = tuple(Stage(FailingBaskets(), s.inputs, s.key_by, s.broadcast_inputs)
                   if isinstance(s.operator, BasketTracker) else s
                   for s in live.topology.stages)
    live.topology = Topology(stages, live.topology.sink_streams)
    live.engine = Engine(live.topology, 0, live._emit)
    return live


def _wait(predicate: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[BackgroundServer, LivePipeline]]:
    store = SqliteStore(str(tmp_path / "features.db"))
    live = _live(store)
    live.start()
    running = BackgroundServer(ServeConfig(store=str(tmp_path / "features.db"), port=0),
                               ServeState(store=store, live=live))
    running.start()
    try:
        yield running, live
    finally:
        running.stop()
        live.stop()


def test_an_operator_failure_stops_the_pipeline_and_shows(
        server: tuple[BackgroundServer, LivePipeline], caplog: pytest.LogCaptureFixture) -> None:
    running, live = server
    caplog.set_level(logging.ERROR, logger="shopstream.api")
    assert live.submit([_line("p1")]) == 1
    _wait(lambda: live.processed == 1)
    with httpx.Client(base_url=running.url, timeout=10) as http:
        assert http.get("/health").json()["status"] == "ok"
        assert live.submit([_line("boom"), _line("p2", "s2")]) == 2  # durable: accepted
        _wait(lambda: live.failure is not None)
        expected = "operator 'baskets' raised _Boom: cannot handle product boom"
        assert live.failure == expected

        health = http.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "pipeline failed"
        assert body["pipeline"]["failure"] == expected
        assert body["pipeline"]["errors"] == 1 and body["pipeline"]["lastError"] == expected

        metrics = http.get("/metrics").text
        assert "shopstream_pipeline_failed 1" in metrics.splitlines()
        assert "shopstream_pipeline_errors_total 1" in metrics.splitlines()

        refused = http.post("/events", content=_line("p3"),
                            headers={"Content-Type": "application/json"})
        assert refused.status_code == 503
        assert "the pipeline stopped: operator 'baskets'" in refused.json()["detail"]
    with pytest.raises(PipelineFailedError, match="until serve is restarted"):
        live.submit([_line("p4")])
    records = [r for r in caplog.records if "serve pipeline stopped" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is not None
    assert records[0].exc_info[0] is _Boom


def test_without_a_failure_health_and_metrics_say_so(
        server: tuple[BackgroundServer, LivePipeline]) -> None:
    running, _ = server
    with httpx.Client(base_url=running.url, timeout=10) as http:
        assert http.get("/health").json()["pipeline"]["failure"] is None
        assert "shopstream_pipeline_failed 0" in http.get("/metrics").text.splitlines()


def test_what_earlier_requests_computed_is_committed_when_an_operator_fails(
        tmp_path: Path) -> None:
    """With batched store commits (``store_commit_ms``), values computed before the
    failure reach the store at once, not only when the server stops."""
    store = SqliteStore(str(tmp_path / "features.db"))
    reader = SqliteStore(str(tmp_path / "features.db"))  # a read worker's own connection
    live = _live(store)
    live.config = LiveConfig(out_of_orderness_ms=0, idle_ms=10, store_commit_ms=60_000)
    live.start()
    try:
        live.submit([_line("p1")])
        _wait(lambda: live.processed == 1)
        live.submit([_line("p2", "s2")])  # its values wait for the next commit (60 s)
        _wait(lambda: live.processed == 2 and live.tap is not None and live.tap.waiting > 0)
        assert reader.get("recs:session:s2") is None
        live.submit([_line("boom", "s3")])
        _wait(lambda: live.failure is not None)
        _wait(lambda: reader.get("recs:session:s2") is not None, seconds=10)
    finally:
        live.stop()
        reader.close()
        store.close()
