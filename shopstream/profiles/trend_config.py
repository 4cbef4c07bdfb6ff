"""Settings of trend detection: the activity weights and :class:`TrendsConfig`.

The series and its ring are in :mod:`shopstream.profiles.trend_series`, the classifier
in :mod:`shopstream.profiles.trends` (which also re-exports these names).

Examples
--------
>>> cfg = TrendsConfig(days=14)
>>> cfg.buckets_per_day, cfg.ring_buckets
(24, 336)
>>> try:
...     TrendsConfig(reading_every_buckets=5)
... except ProfileError as exc:
...     print(exc)
TrendsConfig.reading_every_buckets must divide the 24 buckets of a day, got 5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shopstream.profiles.errors import ProfileError
from shopstream.profiles.seasonality import DAY_MS, HOUR_MS, WeeklyProfile

__all__ = ["ActivityWeights", "TrendsConfig"]


@dataclass(frozen=True)
class ActivityWeights:
    """Weight of a view, an add to cart and a purchased unit in the activity series."""

    view: float = 1.0
    add: float = 3.0
    purchase: float = 5.0

    def __post_init__(self) -> None:
        for name in ("view", "add", "purchase"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                msg = f"ActivityWeights.{name} must be a finite number >= 0, got {value!r}"
                raise ProfileError(msg)
        if self.view + self.add + self.purchase <= 0:
            msg = "ActivityWeights: at least one weight must be > 0"
            raise ProfileError(msg)


@dataclass(frozen=True)
class TrendsConfig:
    """Trend detection settings (see the module docstring for how each is used).

    ``bucket_ms`` must divide an hour; ``days`` is the ring (the window judged);
    ``profile`` a fixed weekly profile (``None``: estimate per key). ``max_keys`` caps a
    :class:`TrendBook`; ``quiet_days`` is how long an operator keeps a key without
    activity before it drops the key's state; ``reading_every_buckets`` how often an
    operator reads an active key (every 6 buckets, 4 times a day with hourly buckets, by
    default; it must divide a day).
    """

    bucket_ms: int = HOUR_MS
    days: int = 28
    weights: ActivityWeights = field(default_factory=ActivityWeights)
    profile: WeeklyProfile | None = None
    seasonal_min_days: int = 14
    seasonal_prior_days: float = 2.0
    min_days: float = 3.0
    min_events: int = 30
    t_threshold: float = 3.0
    min_change: float = 0.25
    volatile_cv: float = 0.5
    max_keys: int = 100_000
    quiet_days: int = 7
    recent_days: int = 14
    reading_every_buckets: int = 6

    def __post_init__(self) -> None:
        if not (0 < self.bucket_ms <= HOUR_MS and HOUR_MS % self.bucket_ms == 0):
            msg = f"TrendsConfig.bucket_ms must divide an hour (3600000), got {self.bucket_ms!r}"
            raise ProfileError(msg)
        for name, low in (("days", 2), ("seasonal_min_days", 7), ("min_events", 0),
                          ("max_keys", 1), ("quiet_days", 1),
                          ("recent_days", 2)):
            value = getattr(self, name)
            if value < low:
                msg = f"TrendsConfig.{name} must be >= {low}, got {value!r}"
                raise ProfileError(msg)
        every = self.reading_every_buckets
        if every < 1 or self.buckets_per_day % every:
            msg = (f"TrendsConfig.reading_every_buckets must divide the "
                   f"{self.buckets_per_day} buckets of a day, got {every!r}")
            raise ProfileError(msg)
        for name in ("seasonal_prior_days", "min_days", "t_threshold", "min_change",
                     "volatile_cv"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                msg = f"TrendsConfig.{name} must be a finite number >= 0, got {value!r}"
                raise ProfileError(msg)

    @property
    def buckets_per_day(self) -> int:
        return DAY_MS // self.bucket_ms

    @property
    def ring_buckets(self) -> int:
        return self.days * self.buckets_per_day
