"""TRENDING: products rising in the last minutes, from Space-Saving sketches over
sliding event-time windows.

Event time is cut into panes of ``slide_ms``; each pane has its own
:class:`~shopstream.recommend.heavy_hitters.SpaceSaving` sketch and the window is the
latest ``window_ms / slide_ms`` panes. :meth:`TrendTracker.snapshot` gives a list of
:class:`TrendingProduct`: the window's weighted ``count``, its ``velocity`` (actions per
minute in the latest pane minus the average per minute of the earlier panes, so rising
products are positive) and a ``score`` that favours recent panes (each pane counts
``0.5 ** (age / 2)``, age in panes).

The window's totals are kept as the actions come, in integers (weights scaled by 100):
per product its count and its score as ``2 ** (-age / 2)`` sums split by the parity of
the pane, ``even + sqrt(2) * odd``, each pane weighing ``2 ** (index / 2)`` from a base
pane; a pane leaving the window subtracts its counts. So a snapshot reads each product
once instead of merging the panes, the totals are exact whatever the order the actions
came in, and the count and velocity come out rounded exactly (half to even); a score
with no odd part is exact too (the records: :mod:`shopstream.recommend.trending_rows`).

The TRENDING strategy (:class:`shopstream.recommend.strategies.Trending`) ranks by that
score, from the latest ``trending-products`` record.

Examples
--------
>>> tracker = TrendTracker(TrendingConfig(window_ms=180_000, slide_ms=60_000))
>>> for t, p in [(0, "a"), (1_000, "a"), (61_000, "b"), (121_000, "b"), (122_000, "b")]:
...     tracker.add(p, 1.0, t)
>>> [(x.product_id, x.count, x.velocity, x.score) for x in tracker.snapshot(179_999, 5)]
[('b', 3.0, 1.5, 2.707), ('a', 2.0, -1.0, 1.0)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopstream.errors import ConfigError
from shopstream.events.recommendations import TrendingProduct
from shopstream.recommend.heavy_hitters import SpaceSaving
from shopstream.recommend.popularity import KindWeights
from shopstream.recommend.trending_rows import SCALE as _SCALE
from shopstream.recommend.trending_rows import SQRT2 as _SQRT2
from shopstream.recommend.trending_rows import Candidate, records_of, trending_products

__all__ = ["Candidate", "TrendTracker", "TrendingConfig", "trending_products"]




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
    """Per-pane sketches of the latest window and their running totals; see the module
    documentation.

    Cost: :meth:`add` is ``O(log capacity)`` amortised; :meth:`snapshot` is one pass over
    the products held (at most ``panes x capacity``), one sort of them and ``k`` records;
    a pane leaving the window costs its products. Memory: ``panes x capacity`` counters
    and one total per product they hold.
    """

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()
        self._panes: deque[tuple[int, SpaceSaving]] = deque()
        self._init_totals()

    def _init_totals(self) -> None:
        #: product -> [count, even part, odd part] over the panes held (scaled integers)
        self._totals: dict[str, list[int]] = {}
        #: product -> its ranking key ``even + sqrt(2) * odd``, kept with the totals (a
        #: snapshot reads them instead of computing one per product held)
        self._keys: dict[str, float] = {}
        #: index (start // slide) of the pane weighing 1; even, at most any pane held
        self._base = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "panes": list(self._panes)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a snapshot (older ones hold ``_panes`` only): the totals are rebuilt."""
        self.config = state["config"]
        self._panes = deque(state.get("panes", state.get("_panes", ())))
        self._init_totals()
        if self._panes:
            self._base = self._base_for(self._panes[-1][0] // self.config.slide_ms)
            for start, sketch in self._panes:
                offset = start // self.config.slide_ms - self._base
                for product, count in sketch.counts.items():
                    self._bump(product, count, offset)

    def _base_for(self, newest: int) -> int:
        """An even pane index at most any a pane accepted beside ``newest`` can have."""
        low = newest - self.config.panes + 1
        if self._panes:
            low = min(low, self._panes[0][0] // self.config.slide_ms)
        return low - low % 2

    def _bump(self, product: str, count: int, offset: int) -> None:
        """Add ``count`` (negative: take away) of the pane ``offset`` panes after the base
        to the totals."""
        totals = self._totals.get(product)
        if totals is None:
            totals = self._totals[product] = [0, 0, 0]
        totals[0] += count
        if totals[0] == 0:  # in no pane any more
            del self._totals[product]
            self._keys.pop(product, None)
            return
        if offset % 2:
            totals[2] += count << (offset >> 1)
        else:
            totals[1] += count << (offset >> 1)
        self._keys[product] = totals[1] + _SQRT2 * totals[2]

    def add(self, product_id: str, weight: float, timestamp_ms: int) -> None:
        """Count one action of ``weight`` on ``product_id`` at ``timestamp_ms`` (a
        weight under 0.005 counts nothing)."""
        count = round(weight * _SCALE)
        if count <= 0:
            return
        slide = self.config.slide_ms
        start = timestamp_ms - timestamp_ms % slide
        panes = self._panes
        if panes and panes[-1][0] == start:
            sketch = panes[-1][1]
        else:
            found = self._pane(start, timestamp_ms)
            if found is None:
                return
            sketch = found
        evicted = sketch.add(product_id, count)
        offset = start // slide - self._base
        if evicted is not None:  # the victim's count moves to the newcomer
            victim, floor = evicted
            self._bump(victim, -floor, offset)
            count += floor
        totals = self._totals.get(product_id)
        if totals is None:
            totals = self._totals[product_id] = [0, 0, 0]
        totals[0] += count
        totals[2 if offset % 2 else 1] += count << (offset >> 1)
        self._keys[product_id] = totals[1] + _SQRT2 * totals[2]

    def _pane(self, start: int, timestamp_ms: int) -> SpaceSaving | None:
        """The sketch of the pane starting at ``start`` when it is not the newest: a new
        newest one (the panes that left the window dropped), or an older one (out-of-order
        input) unless it already left the window."""
        panes = self._panes
        slide = self.config.slide_ms
        if not panes or panes[-1][0] < start:
            sketch = SpaceSaving(self.config.capacity)
            if not panes:
                self._base = self._base_for(start // slide)
            panes.append((start, sketch))
            # Later input of the same pane cannot move the horizon past another pane.
            self._expire(timestamp_ms)
            # After the expiry: input after a long pause leaves no old pane to hold the
            # base back, so pane weights stay small however long the pause.
            self._rebase(start // slide)
            return sketch
        if start + self.config.window_ms <= panes[-1][0]:
            return None
        for index, (begin, existing) in enumerate(panes):
            if begin == start:
                return existing
            if begin > start:
                sketch = SpaceSaving(self.config.capacity)
                panes.insert(index, (start, sketch))
                return sketch
        return None  # pragma: no cover - the newest pane starts after ``start``

    def _rebase(self, newest: int) -> None:
        """Keep the pane weights small: move the base up once it lags by more than two
        windows (exact: every pane held is at or after the new base)."""
        panes = self.config.panes
        # The new base is at most newest - panes + 1: no move while that bound is near.
        if (newest - panes + 1 - self._base) >> 1 <= panes:
            return
        base = self._base_for(newest)
        shift = (base - self._base) >> 1
        if shift <= panes:
            return
        keys = self._keys
        for product, totals in self._totals.items():
            totals[1] >>= shift
            totals[2] >>= shift
            keys[product] = totals[1] + _SQRT2 * totals[2]
        self._base = base

    def split(self, group_of: Callable[[str], str]) -> dict[str, TrendTracker]:
        """This tracker's products partitioned by ``group_of(product)``: per group, a
        tracker holding its products' counters of each pane (a pane with none of them
        left out), what the group would hold had it counted only its products (exactly,
        while no pane's sketch was full). One pass over the counters.

        Examples
        --------
        >>> tracker = TrendTracker(TrendingConfig(window_ms=120_000, slide_ms=60_000))
        >>> for t, p in [(0, "a"), (1_000, "b"), (61_000, "b")]:
        ...     tracker.add(p, 1.0, t)
        >>> parts = tracker.split(lambda product: product)
        >>> [(g, [(x.product_id, x.count) for x in t.snapshot(119_999, 5)])
        ...  for g, t in sorted(parts.items())]
        [('a', [('a', 1.0)]), ('b', [('b', 2.0)])]
        """
        panes: dict[str, list[tuple[int, SpaceSaving]]] = {}
        for start, sketch in self._panes:
            parts: dict[str, SpaceSaving] = {}
            for product, count in sketch.counts.items():
                group = group_of(product)
                part = parts.get(group)
                if part is None:
                    part = parts[group] = SpaceSaving(sketch.capacity)
                part.add(product, count)  # at most the capacity: never evicts
            for group, part in parts.items():
                panes.setdefault(group, []).append((start, part))
        out: dict[str, TrendTracker] = {}
        for group, held in panes.items():
            tracker = out[group] = TrendTracker.__new__(TrendTracker)
            tracker.__setstate__({"config": self.config, "panes": held})
        return out

    def opening_timer(self, timestamp_ms: int) -> int | None:
        """The end of ``timestamp_ms``'s pane when input at that time opens it (it is not
        the newest pane held: a new, or an out-of-order older, pane), else ``None``: the
        input that opens a pane registers its timer. Ask before :meth:`add`.

        >>> tracker = TrendTracker(TrendingConfig(slide_ms=60_000))
        >>> tracker.opening_timer(61_000)
        119999
        >>> tracker.add("p1", 1.0, 61_000)
        >>> tracker.opening_timer(90_000) is None
        True
        """
        slide = self.config.slide_ms
        pane = timestamp_ms - timestamp_ms % slide
        return None if self.newest_pane() == pane else pane + slide - 1

    def newest_pane(self) -> int | None:
        """Start of the newest pane holding input, or ``None`` before any."""
        return self._panes[-1][0] if self._panes else None

    def _expire(self, now_ms: int, horizon_ms: int | None = None) -> None:
        """Drop the panes starting at or before ``horizon_ms`` (default: those ending
        at or before ``now_ms - window_ms``)."""
        if horizon_ms is None:
            horizon_ms = now_ms - self.config.window_ms - self.config.slide_ms
        panes = self._panes
        slide = self.config.slide_ms
        totals = self._totals
        keys = self._keys
        while panes and panes[0][0] <= horizon_ms:
            start, sketch = panes.popleft()
            offset = start // slide - self._base
            # _bump(product, -count, offset) inlined: one call fewer per counter dropped
            part = 2 if offset % 2 else 1
            half = offset >> 1
            for product, count in sketch.counts.items():
                entry = totals.get(product)
                if entry is None:  # pragma: no cover - a pane's products are in the totals
                    self._bump(product, -count, offset)
                    continue
                left = entry[0] - count
                if left == 0:  # in no pane any more
                    del totals[product]
                    keys.pop(product, None)
                    continue
                entry[0] = left
                entry[part] -= count << half
                keys[product] = entry[1] + _SQRT2 * entry[2]

    def snapshot(self, now_ms: int, k: int) -> list[TrendingProduct]:
        """The ``k`` best products of the window ending at ``now_ms``, by score (equal
        scores by product id); see the class documentation for the cost."""
        best, totals, latest, offset = self._best(now_ms, k)
        return records_of(self.config, best, totals, latest, offset)

    def candidates(self, now_ms: int, k: int) -> list[Candidate]:
        """The ``k`` best products of :meth:`snapshot` as :data:`Candidate` rows, best
        first (what :func:`trending_products` makes the records of), comparable between
        trackers.

        A product ranks by ``even + sqrt(2) * odd`` of its totals, which are relative to
        this tracker's base pane; a row's first field is minus that float times a power of
        two (exact), so that it is relative to the even pane index at or just before the
        window's newest pane instead: the same for every tracker at ``now_ms``. So the
        rows of trackers that hold disjoint products (the key groups of the two-phase
        trending stages) sort their union exactly as one tracker holding all of them
        would rank them (equal keys: by product id, the second field).

        Examples
        --------
        >>> one = TrendTracker(TrendingConfig(window_ms=180_000, slide_ms=60_000))
        >>> late = TrendTracker(one.config)
        >>> for t, p in [(0, "a"), (61_000, "b"), (121_000, "b"), (122_000, "c")]:
        ...     one.add(p, 1.0, t)
        ...     if t > 100_000:
        ...         late.add(p, 1.0, t)
        >>> [row[:2] for row in one.candidates(179_999, 3)]
        [(-170.71067811865476, 'b'), (-100.0, 'c'), (-50.0, 'a')]
        >>> late.candidates(179_999, 3)[1][:2]  # c, whatever else each tracker holds
        (-100.0, 'c')
        """
        best, totals, latest, offset = self._best(now_ms, k)
        keys = self._keys if totals is self._totals else {
            p: t[1] + _SQRT2 * t[2] for p, t in totals.items()}
        # ldexp by a whole power of two: exact, and the same base for every tracker.
        shift = -(offset >> 1)
        ldexp = math.ldexp
        get_now = latest.get
        return [(-ldexp(keys[product], shift), product, t[0], t[1], t[2],
                 get_now(product, 0), offset)
                for product, t in zip(best, map(totals.__getitem__, best), strict=True)]

    def _best(self, now_ms: int, k: int) -> tuple[list[str], dict[str, list[int]],
                                                  dict[str, int], int]:
        """The ``k`` best products of the window ending at ``now_ms``, best first, the
        totals they are read from, the newest pane's counts and the offset of the window's
        newest pane from the base (the panes that left the window dropped first)."""
        cfg = self.config
        slide = cfg.slide_ms
        current = now_ms - now_ms % slide
        # Panes at or before current - window_ms never count again: dropped for good.
        self._expire(now_ms, current - cfg.window_ms)
        self._rebase(current // slide)
        totals = self._totals
        keys = self._keys
        latest: dict[str, int] = {}
        for start, sketch in self._panes:
            if start == current:
                latest = sketch.counts
            elif start > current:  # input ahead of the window (out of order): not yet
                totals = self._without(start for start, _ in self._panes if start > current)
                keys = {p: t[1] + _SQRT2 * t[2] for p, t in totals.items()}
                break
        best = sorted(sorted(keys), key=keys.__getitem__, reverse=True)[:k]
        return best, totals, latest, current // slide - self._base

    def _without(self, starts: Any) -> dict[str, list[int]]:
        """The totals without the panes starting at ``starts``."""
        totals = {p: list(t) for p, t in self._totals.items()}
        ahead = set(starts)
        slide = self.config.slide_ms
        for start, sketch in self._panes:
            if start not in ahead:
                continue
            offset = start // slide - self._base
            for product, count in sketch.counts.items():
                entry = totals[product]
                entry[0] -= count
                entry[2 if offset % 2 else 1] -= count << (offset >> 1)
        return {p: t for p, t in totals.items() if t[0]}
