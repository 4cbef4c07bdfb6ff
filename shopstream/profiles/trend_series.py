"""The activity series of one product or category: counts per time bucket in a ring.

``ActivitySeries`` keeps ``[views, adds, purchases]`` per bucket (``ts_ms // bucket_ms``,
one hour by default), only the non-empty buckets, at most ``config.ring_buckets`` of
them once pruned (``days * 86_400_000 / bucket_ms``); adding is O(1). The classifier
that reads a series is :func:`shopstream.profiles.trends.read_trend`.

Examples
--------
>>> from shopstream.profiles.trend_config import TrendsConfig
>>> cfg = TrendsConfig(days=2)
>>> series = ActivitySeries()
>>> series.add(VIEW, 3, 0, cfg)
>>> series.add(PURCHASE, 1, 50 * HOUR_MS, cfg)
>>> series.prune(50, cfg)                   # the ring of 48 buckets ending with bucket 50
>>> series.buckets, series.last_active
({50: [0, 0, 1]}, 50)
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from shopstream.profiles.seasonality import HOUR_MS
from shopstream.profiles.trend_config import TrendsConfig

__all__ = ["ADD", "HOUR_MS", "PURCHASE", "VIEW", "ActivitySeries"]

VIEW, ADD, PURCHASE = 0, 1, 2
"""Activity kinds: indexes into a bucket's counts."""


class ActivitySeries(msgspec.Struct):
    """Counts per bucket index (``ts_ms // bucket_ms``): ``[views, adds, purchases]``.

    Only non-empty buckets are stored; :meth:`prune` drops those before the ring.
    """

    buckets: dict[int, list[int]] = msgspec.field(default_factory=dict)
    last_active: int = -1
    """Newest bucket with activity."""
    period_timer: int = -1
    """The reading timer an operator last set for this series and has not seen fire
    (``-1``: none), so it sets it once per period rather than once per element."""

    def add(self, kind: int, quantity: int, ts_ms: int, config: TrendsConfig) -> None:
        """Count ``quantity`` of ``kind`` at ``ts_ms``: O(1)."""
        index = ts_ms // config.bucket_ms
        counts = self.buckets.get(index)
        if counts is None:
            counts = self.buckets[index] = [0, 0, 0]
        counts[kind] += quantity
        self.last_active = max(self.last_active, index)

    def prune(self, end_bucket: int, config: TrendsConfig) -> None:
        """Forget buckets before the ring that ends with ``end_bucket``."""
        start = end_bucket - config.ring_buckets + 1
        for index in [i for i in self.buckets if i < start]:
            del self.buckets[index]

    def window(self, end_bucket: int, config: TrendsConfig) -> Iterator[tuple[int, list[int]]]:
        """The stored buckets of the ring that ends with ``end_bucket``."""
        start = end_bucket - config.ring_buckets + 1
        return ((i, c) for i, c in self.buckets.items() if start <= i <= end_bucket)
