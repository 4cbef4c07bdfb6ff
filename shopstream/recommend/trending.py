"""TRENDING: products rising in the last minutes, from Space-Saving sketches over
sliding event-time windows.

Event time is cut into panes of ``slide_ms``; each pane has its own
:class:`~shopstream.recommend.heavy_hitters.SpaceSaving` sketch and the window is the
latest ``window_ms / slide_ms`` panes. :meth:`TrendTracker.snapshot` merges them into a
list of :class:`TrendingProduct`: the window's weighted ``count``, its ``velocity``
(actions per minute in the latest pane minus the average per minute of the earlier
panes, so rising products are positive) and a ``score`` that favours recent panes (each
pane counts ``0.5 ** (age / 2)``, age in panes).

The TRENDING strategy (:class:`shopstream.recommend.strategies.Trending`) ranks by that
score, from the latest ``trending-products`` record.

Examples
--------
>>> tracker = TrendTracker(TrendingConfig(window_ms=180_000, slide_ms=60_000))
>>> for t, p in [(0, "a"), (1_000, "a"), (61_000, "b"), (121_000, "b"), (122_000, "b")]:
...     tracker.add(p, 1.0, t)
>>> [(x.product_id, x.count, x.velocity) for x in tracker.snapshot(179_999, 5)]
[('b', 3.0, 1.5), ('a', 2.0, -1.0)]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from shopstream.errors import ConfigError
from shopstream.events.recommendations import TrendingProduct
from shopstream.recommend.heavy_hitters import SpaceSaving
from shopstream.recommend.popularity import KindWeights

__all__ = ["TrendTracker", "TrendingConfig"]

# Sketch counts are integers: weights are scaled by this and scaled back in snapshots.
_SCALE = 100


@dataclass(frozen=True)
class TrendingConfig:
    """Windows of the trending tracker.

    Parameters
    ----------
    window_ms
        How far back a product's actions count (default 10 minutes).
    slide_ms
        Pane length, and how often ``trending-products`` is emitted (default 1 minute).
    capacity
        Space-Saving counters per pane.
    top_n
        Products per ``trending-products`` record.
    weights
        Weight of each action kind.
    """

    window_ms: int = 600_000
    slide_ms: int = 60_000
    capacity: int = 500
    top_n: int = 50
    weights: KindWeights = field(default_factory=KindWeights)

    def __post_init__(self) -> None:
        for name in ("window_ms", "slide_ms", "capacity", "top_n"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"TrendingConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)
        if self.window_ms % self.slide_ms:
            msg = (f"TrendingConfig.window_ms ({self.window_ms}) must be a multiple of "
                   f"slide_ms ({self.slide_ms})")
            raise ConfigError(msg)

    @property
    def panes(self) -> int:
        return self.window_ms // self.slide_ms


class TrendTracker:
    """Per-pane sketches of the latest window; see the module documentation."""

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()
        self._panes: deque[tuple[int, SpaceSaving]] = deque()

    def add(self, product_id: str, weight: float, timestamp_ms: int) -> None:
        """Count one action of ``weight`` on ``product_id`` at ``timestamp_ms``."""
        if weight <= 0:
            return
        start = timestamp_ms - timestamp_ms % self.config.slide_ms
        panes = self._panes
        sketch: SpaceSaving | None = None
        if panes and panes[-1][0] == start:
            sketch = panes[-1][1]
        elif not panes or panes[-1][0] < start:
            sketch = SpaceSaving(self.config.capacity)
            panes.append((start, sketch))
        else:  # an older pane (out-of-order input), unless it already left the window
            if start + self.config.window_ms <= panes[-1][0]:
                return
            for index, (begin, existing) in enumerate(panes):
                if begin == start:
                    sketch = existing
                    break
                if begin > start:
                    sketch = SpaceSaving(self.config.capacity)
                    panes.insert(index, (start, sketch))
                    break
        if sketch is None:
            return
        sketch.add(product_id, round(weight * _SCALE))
        self._expire(timestamp_ms)

    def newest_pane(self) -> int | None:
        """Start of the newest pane holding input, or ``None`` before any."""
        return self._panes[-1][0] if self._panes else None

    def _expire(self, now_ms: int) -> None:
        horizon = now_ms - self.config.window_ms
        panes = self._panes
        while panes and panes[0][0] + self.config.slide_ms <= horizon:
            panes.popleft()

    def snapshot(self, now_ms: int, k: int) -> list[TrendingProduct]:
        """The ``k`` best products of the window ending at ``now_ms``, by score.

        Cost: ``O(panes x capacity)`` to merge the panes, a sort of the products merged
        and ``k`` records (their rounded velocities and scores memoised, at most 50,000
        of each)."""
        self._expire(now_ms)
        cfg = self.config
        current = now_ms - now_ms % cfg.slide_ms
        # Sums of the integer sketch counts, scaled back once per product that comes out.
        counts: dict[str, int] = {}
        scores: dict[str, float] = {}
        latest: dict[str, int] = {}
        count_of, score_of = counts.get, scores.get
        slide, window_panes = cfg.slide_ms, cfg.panes
        for start, sketch in self._panes:
            age = (current - start) // slide
            if age < 0 or age >= window_panes:
                continue
            decay = 0.5 ** (age / 2)
            for product, count in sketch.counts.items():
                counts[product] = count_of(product, 0) + count
                scores[product] = score_of(product, 0.0) + decay * count
            if age == 0:
                latest = sketch.counts
        per_minute = _SCALE * cfg.slide_ms / 60_000
        earlier_panes = max(1, window_panes - 1)
        # Best score first, equal scores by product id: two C-level sorts (the second
        # keeps the order of equals).
        best = sorted(sorted(scores), key=scores.__getitem__, reverse=True)[:k]
        out = []
        velocities, rounded = _VELOCITY, _ROUNDED
        if len(velocities) > _MEMO_CAP:
            velocities.clear()
        if len(rounded) > _MEMO_CAP:
            rounded.clear()
        for product in best:
            count = counts[product]
            now = latest.get(product, 0)
            # round() costs about a microsecond (a decimal conversion), three per product
            # and minute: the same inputs give the same floats, so each is memoised.
            velocity = velocities.get((now, count, earlier_panes, per_minute))
            if velocity is None:
                velocity = velocities[now, count, earlier_panes, per_minute] = round(
                    (now - (count - now) / earlier_panes) / per_minute, 3)
            score = scores[product] / _SCALE
            shown = rounded.get(score)
            if shown is None:
                shown = rounded[score] = round(score, 3)
            # An integer over 100 already is the double nearest its two decimals: round
            # (count / 100, 2) would return it unchanged.
            out.append(TrendingProduct(product, count / _SCALE, velocity, shown))
        return out


# Memos of round() for snapshot: pure functions of their keys, each cleared past
# _MEMO_CAP entries (a bound on memory; a miss only costs the round() again).
_MEMO_CAP = 50_000
_VELOCITY: dict[tuple[int, int, int, float], float] = {}
_ROUNDED: dict[float, float] = {}
