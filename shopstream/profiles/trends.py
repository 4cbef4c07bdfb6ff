"""Trend detection: is a product (or category) rising, falling, stable or volatile?

The input is the event-time series of its views, adds to cart and purchases, counted in
buckets of ``bucket_ms`` (default one hour) kept in a bounded ring of ``days`` days
(:class:`ActivitySeries`: only non-empty buckets are stored, at most
``days * 86_400_000 / bucket_ms`` of them; adding is O(1)). :func:`read_trend` judges the
window that ends with a closed bucket, in five steps:

1. **Activity.** Each bucket's weighted count ``x = w_view views + w_add adds +
   w_purchase purchases`` (:class:`ActivityWeights`, default 1, 3, 5).
2. **Season out.** With a :class:`~shopstream.profiles.seasonality.WeeklyProfile` ``s``
   (given in the config; else estimated from the key's own series once it covers
   ``seasonal_min_days``: observed counts per weekday x hour against a linear trend of its
   complete days, shrunk by ``seasonal_prior_days``; else flat), each UTC day ``j`` of the
   window becomes a season-free rate per day ``y_j = sum x_b / sum (s(b) / B)`` over its
   ``B``-per-day buckets ``b`` that lie in the window. Its weight ``c_j = sum s(b) / B`` is
   the share of a normal day the block covers, so a day just begun (whose hours so far
   are the quiet ones) counts little and is not read as a fall.
3. **Fit.** Weighted least squares of ``y`` on the day ``t``: a line (slope ``beta``, its
   t-statistic ``z``, ``R^2``). ``level`` is the
   weighted mean of ``y``; ``change = beta * span / level`` the relative change the line
   makes over the window; ``excess`` the coefficient of variation of the residuals above
   what Poisson noise of these counts alone would give.
4. **Classify** (first match wins): too little data (``min_days`` days or
   ``min_events`` events) -> ``stable`` with confidence 0; ``excess >= volatile_cv`` and
   ``R^2 < 0.5`` -> ``volatile`` (strength ``tanh(excess)``); ``|z| >= t_threshold`` and
   ``|change| >= min_change`` -> ``rising`` / ``falling`` (strength ``tanh(|change|)``);
   else ``stable`` (strength ``1 - max(|change| / min_change, excess / volatile_cv)``,
   clipped to 0-1). Judged on the whole window, so a product climbing for three weeks
   and dipping for two days stays ``rising``, while the prediction follows the dip.
5. **Predict.** ``velocity`` is the slope of the line fitted to the last ``recent_days``
   days (season-free activity per day, per day) and ``acceleration`` how much it differs
   from the slope of the ``recent_days`` before, per day (per day^2; 0 without that much
   history). The predicted ``direction`` is ``up`` / ``down`` when the recent slope is at
   least two standard errors from 0 (``|z| >= 2``), else ``flat``; ``confidence`` is
   ``2 Phi(|z|) - 1`` for up or down (``2 - 2 Phi(|z|)`` for flat), times
   ``min(1, days / 7)``.

Cost of a reading: O(stored buckets), at most the ring. :class:`TrendBook` keeps series
for many keys with a cap (``max_keys``), evicting the key idle the longest.

Examples
--------
>>> cfg = TrendsConfig(days=14)
>>> series = ActivitySeries()
>>> for day in range(14):                   # 5 views an hour, one more each day
...     for hour in range(24):
...         series.add(VIEW, 5 + day, (day * 24 + hour) * HOUR_MS, cfg)
>>> reading = read_trend(series, 14 * 24 - 1, cfg)
>>> str(reading.label), reading.direction, round(reading.velocity, 1), reading.views
('rising', 'up', 24.0, 3864)
>>> abs(round(reading.acceleration, 3)), round(reading.strength, 2), reading.confidence
(0.0, 0.81, 1.0)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import numpy as np
from numpy.typing import NDArray

from shopstream.profiles.errors import ProfileError
from shopstream.profiles.seasonality import (
    DAY_MS,
    HOUR_MS,
    WeeklyProfile,
    estimate_profile,
    week_cells,
)

__all__ = ["ADD", "HOUR_MS", "PURCHASE", "VIEW", "ActivitySeries", "ActivityWeights",
           "TrendBook", "TrendLabel", "TrendReading", "TrendsConfig", "read_trend"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

VIEW, ADD, PURCHASE = 0, 1, 2
"""Activity kinds: indexes into a bucket's counts."""


class TrendLabel(enum.StrEnum):
    """What a series is doing."""

    RISING = "rising"
    FALLING = "falling"
    STABLE = "stable"
    VOLATILE = "volatile"


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


class ActivitySeries(msgspec.Struct):
    """Counts per bucket index (``ts_ms // bucket_ms``): ``[views, adds, purchases]``.

    Only non-empty buckets are stored; :meth:`prune` drops those before the ring.
    """

    buckets: dict[int, list[int]] = msgspec.field(default_factory=dict)
    last_active: int = -1
    """Newest bucket with activity."""

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


@dataclass(frozen=True)
class TrendReading:
    """A judged window: label, strength, prediction, and the figures behind them.

    ``judged`` is false when the window held too little data (``min_days``,
    ``min_events``): the label is then ``stable`` with strength and confidence 0.
    """

    label: TrendLabel
    strength: float
    direction: str
    confidence: float
    velocity: float
    acceleration: float
    level: float
    change: float
    days: float
    views: int
    adds: int
    purchases: int
    seasonality: str
    """``given`` (the config's profile), ``own`` (estimated from this key) or ``flat``."""
    judged: bool = True


def read_trend(series: ActivitySeries, end_bucket: int, config: TrendsConfig) -> TrendReading:
    """Judge the window of ``series`` that ends with bucket ``end_bucket`` (inclusive)."""
    cells = list(series.window(end_bucket, config))
    if not cells:
        return _quiet(0.0, [0, 0, 0], "flat")
    totals = [sum(c[k] for _, c in cells) for k in (VIEW, ADD, PURCHASE)]
    per_day = config.buckets_per_day
    first = min(i for i, _ in cells)
    days = (end_bucket - first + 1) / per_day
    if days < config.min_days or sum(totals) < config.min_events:
        return _quiet(days, totals, "flat" if config.profile is None else "given")
    index = np.fromiter((i for i, _ in cells), dtype=np.int64, count=len(cells))
    counts = np.array([c for _, c in cells], dtype=np.float64).reshape(-1, 3)
    w = config.weights
    weights = (w.view, w.add, w.purchase)
    activity: FloatArray = counts @ np.array(weights)
    profile, source = _profile(index, activity, first, end_bucket, config)
    t, y, c = _daily_rates(index, activity, first, end_bucket, profile, config)
    line = _wls(t, y, c, degree=1)
    level = float(np.average(y, weights=c))
    if level <= 0 or line is None:
        return _quiet(days, totals, source)
    beta, se_beta, r2, resid_sd = line
    span = float(t[-1] - t[0])
    change = beta * span / level
    z = beta / se_beta if se_beta > 0 else math.copysign(math.inf, beta) if beta else 0.0
    # Poisson: a day's weighted total has variance sum w_k^2 n_k, mean sum w_k n_k.
    mean_day = sum(wk * n for wk, n in zip(weights, totals, strict=True)) / days
    var_day = sum(wk * wk * n for wk, n in zip(weights, totals, strict=True)) / days
    noise_cv = math.sqrt(var_day) / mean_day if mean_day > 0 else 0.0
    cv = resid_sd / level
    excess = math.sqrt(max(0.0, cv * cv - noise_cv * noise_cv))
    if excess >= config.volatile_cv and r2 < 0.5:
        label, strength = TrendLabel.VOLATILE, math.tanh(excess)
    elif abs(z) >= config.t_threshold and abs(change) >= config.min_change:
        label = TrendLabel.RISING if change > 0 else TrendLabel.FALLING
        strength = math.tanh(abs(change))
    else:
        label = TrendLabel.STABLE
        firm = max(abs(change) / config.min_change if config.min_change else 0.0,
                   excess / config.volatile_cv if config.volatile_cv else 0.0)
        strength = min(1.0, max(0.0, 1.0 - firm))
    velocity, acceleration, z_end = _recent(t, y, c, config.recent_days)
    sure = 2.0 * _phi(abs(z_end)) - 1.0
    direction = "flat" if abs(z_end) < 2.0 else ("up" if z_end > 0 else "down")
    confidence = (sure if direction != "flat" else 1.0 - sure) * min(1.0, days / 7.0)
    return TrendReading(label=label, strength=round(strength, 4), direction=direction,
                        confidence=round(confidence, 4), velocity=velocity,
                        acceleration=acceleration, level=level, change=change, days=days,
                        views=totals[VIEW], adds=totals[ADD], purchases=totals[PURCHASE],
                        seasonality=source)


class TrendBook:
    """Series for many keys, at most ``config.max_keys`` of them.

    Adding to a new key beyond the cap evicts the key whose last activity is the oldest
    (a scan of the keys, only when the cap is hit). Memory: ``max_keys`` rings.

    >>> book = TrendBook(TrendsConfig(max_keys=2))
    >>> for key, ts in [("a", 0), ("b", HOUR_MS), ("c", 2 * HOUR_MS)]:
    ...     book.add(key, VIEW, 1, ts)
    >>> sorted(book.keys())
    ['b', 'c']
    """

    def __init__(self, config: TrendsConfig | None = None) -> None:
        self.config = config or TrendsConfig()
        self._series: dict[str, ActivitySeries] = {}

    def add(self, key: str, kind: int, quantity: int, ts_ms: int) -> None:
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= self.config.max_keys:
                oldest = min(self._series, key=lambda k: self._series[k].last_active)
                del self._series[oldest]
            series = self._series[key] = ActivitySeries()
        series.add(kind, quantity, ts_ms, self.config)

    def keys(self) -> list[str]:
        return list(self._series)

    def read(self, key: str, end_ms: int) -> TrendReading | None:
        """The reading of ``key`` for the window ending just before ``end_ms``."""
        series = self._series.get(key)
        if series is None:
            return None
        end_bucket = end_ms // self.config.bucket_ms - 1
        series.prune(end_bucket, self.config)
        return read_trend(series, end_bucket, self.config)


def _quiet(days: float, totals: list[int], source: str) -> TrendReading:
    return TrendReading(TrendLabel.STABLE, 0.0, "flat", 0.0, 0.0, 0.0, 0.0, 0.0, days,
                        totals[VIEW], totals[ADD], totals[PURCHASE], source, judged=False)


def _profile(index: IntArray, activity: FloatArray, first: int, end_bucket: int,
             config: TrendsConfig) -> tuple[WeeklyProfile, str]:
    if config.profile is not None:
        return config.profile, "given"
    per_day = config.buckets_per_day
    day0 = first // per_day + (first % per_day != 0)             # first complete day
    day1 = end_bucket // per_day + ((end_bucket + 1) % per_day == 0)  # after the last
    if day1 - day0 < config.seasonal_min_days:
        return WeeklyProfile.flat(), "flat"
    day = index // per_day
    inside = (day >= day0) & (day < day1)
    totals = np.bincount(day[inside] - day0, weights=activity[inside], minlength=day1 - day0)
    observed = np.bincount(week_cells(index[inside] * config.bucket_ms),
                           weights=activity[inside], minlength=168).reshape(7, 24)
    offsets = np.arange(day1 - day0, dtype=np.float64)
    expected = np.maximum(np.polyval(np.polyfit(offsets, totals, 1), offsets), 1e-9) / 24.0
    weekdays = week_cells(np.arange(day0, day1, dtype=np.int64) * DAY_MS) // 24
    per_weekday = np.bincount(weekdays, weights=expected, minlength=7)
    baseline = np.repeat(per_weekday[:, None], 24, axis=1)
    return estimate_profile(observed.tolist(), baseline.tolist(),
                            prior_days=config.seasonal_prior_days, days=day1 - day0), "own"


def _daily_rates(index: IntArray, activity: FloatArray, first: int, end_bucket: int,
                 profile: WeeklyProfile, config: TrendsConfig,
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
    per_day = config.buckets_per_day
    day0 = first // per_day
    n = end_bucket // per_day - day0 + 1
    observed = np.bincount(index // per_day - day0, weights=activity, minlength=n)
    # Expected share of a day in the window's part of each day: sum of s(b) / B.
    buckets = np.arange(first, end_bucket + 1, dtype=np.int64)
    coverage = np.bincount(buckets // per_day - day0,
                           weights=profile.factors(buckets * config.bucket_ms),
                           minlength=n) / per_day
    keep = coverage > 0
    t = np.arange(n, dtype=np.float64)[keep]
    return t, observed[keep] / coverage[keep], coverage[keep]


def _wls(t: FloatArray, y: FloatArray, c: FloatArray,
         degree: int) -> tuple[float, float, float, float] | None:
    """Weighted line: slope, its standard error, R^2 and the residual SD (weighted)."""
    fitted = _fit(t, y, c, degree)
    if fitted is None:
        return None
    coef, cov, resid_sd, r2 = fitted
    return float(coef[1]), math.sqrt(max(float(cov[1, 1]), 0.0)), r2, resid_sd


def _fit(t: FloatArray, y: FloatArray, c: FloatArray,
         degree: int) -> tuple[FloatArray, FloatArray, float, float] | None:
    if t.size <= degree + 1:
        return None
    x = np.vander(t - t.mean(), degree + 1, increasing=True)
    sw = np.sqrt(c)
    coef, *_ = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)
    resid = y - x @ coef
    dof = max(float(c.sum()) * (t.size - degree - 1) / t.size, 1e-9)
    s2 = float(np.sum(c * resid**2)) / dof
    xtwx = (x * c[:, None]).T @ x
    try:
        cov = np.linalg.inv(xtwx) * s2
    except np.linalg.LinAlgError:
        return None
    mean = np.average(y, weights=c)
    total = float(np.sum(c * (y - mean) ** 2))
    r2 = 1.0 - float(np.sum(c * resid**2)) / total if total > 0 else 1.0
    return coef, cov, math.sqrt(s2), r2


def _recent(t: FloatArray, y: FloatArray, c: FloatArray,
            days: int) -> tuple[float, float, float]:
    """Slope of the last ``days`` days and its z, and the change of slope from the
    ``days`` before them, per day (0 when there are fewer than ``days + 2`` days)."""
    def slope(lo: float, hi: float) -> tuple[float, float] | None:
        pick = (t > lo) & (t <= hi)
        line = _wls(t[pick], y[pick], c[pick], degree=1)
        if line is None:
            return None
        beta, se, _, _ = line
        z = beta / se if se > 0 else (math.copysign(math.inf, beta) if beta else 0.0)
        return beta, z

    end = float(t[-1])
    last = slope(end - days, end)
    if last is None:
        return 0.0, 0.0, 0.0
    before = slope(end - 2 * days, end - days)
    acceleration = (last[0] - before[0]) / days if before is not None else 0.0
    return last[0], acceleration, last[1]


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))) if math.isfinite(z) else 1.0
