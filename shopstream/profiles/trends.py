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

This module is the classifier; the series and its ring are
:mod:`shopstream.profiles.trend_series`, the settings :mod:`shopstream.profiles.trend_config`
(their names are importable from here too), and the figures a reading gives are the
wire model's :class:`~shopstream.events.trends.TrendFigures`.

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
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from shopstream.events.trends import TrendFigures
from shopstream.profiles.seasonality import (
    DAY_MS,
    HOUR_MS,
    WeeklyProfile,
    estimate_profile,
    week_cells,
)
from shopstream.profiles.trend_config import ActivityWeights, TrendsConfig
from shopstream.profiles.trend_series import ADD, PURCHASE, VIEW, ActivitySeries

# The series and the configuration live in their own modules; their names are also
# importable from here.
__all__ = ["ADD", "HOUR_MS", "PURCHASE", "VIEW", "ActivitySeries", "ActivityWeights",
           "TrendBook", "TrendLabel", "TrendReading", "TrendsConfig", "read_trend"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_FLAT = WeeklyProfile.flat()  # frozen: one for every reading without seasonality


class TrendLabel(enum.StrEnum):
    """What a series is doing."""

    RISING = "rising"
    FALLING = "falling"
    STABLE = "stable"
    VOLATILE = "volatile"


class TrendReading(TrendFigures, frozen=True, kw_only=True):
    """A judged window: the :class:`~shopstream.events.trends.TrendFigures` (label,
    strength, prediction, and the figures behind them; ``seasonality`` is ``given``, the
    config's profile, ``own``, estimated from this key, or ``flat``) and whether it was
    judged.

    ``judged`` is false when the window held too little data (``min_days``,
    ``min_events``): the label is then ``stable`` with strength and confidence 0.
    ``velocity``, ``acceleration``, ``level`` and ``change`` are rounded to 6 places,
    ``days`` to 4, ``strength`` and ``confidence`` to 4.
    """

    label: TrendLabel
    judged: bool = True


def read_trend(series: ActivitySeries, end_bucket: int, config: TrendsConfig) -> TrendReading:
    """Judge the window of ``series`` that ends with bucket ``end_bucket`` (inclusive)."""
    window = _window(series, end_bucket, config)
    if window is None:
        return _quiet(0.0, [0, 0, 0], "flat")
    totals, first, arrays = window
    per_day = config.buckets_per_day
    days = (end_bucket - first + 1) / per_day
    if days < config.min_days or sum(totals) < config.min_events:
        return _quiet(days, totals, "flat" if config.profile is None else "given")
    index, counts = arrays()
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
                        confidence=round(confidence, 4), velocity=round(velocity, 6),
                        acceleration=round(acceleration, 6), level=round(level, 6),
                        change=round(change, 6), days=round(days, 4), views=totals[VIEW],
                        adds=totals[ADD], purchases=totals[PURCHASE], seasonality=source)


_SMALL = 48
"""Up to this many stored buckets a loop reads the window faster than numpy."""


def _window(series: ActivitySeries, end_bucket: int, config: TrendsConfig,
            ) -> tuple[list[int], int, Callable[[], tuple[IntArray, FloatArray]]] | None:
    """The totals per kind and the first bucket of the window, and how to get its
    buckets' indexes and counts as arrays (in the dictionary's order, so that sums over
    them add in the same order either way); ``None`` for an empty window."""
    buckets = series.buckets
    start = end_bucket - config.ring_buckets + 1
    if len(buckets) <= _SMALL:
        cells = [(i, c) for i, c in buckets.items() if start <= i <= end_bucket]
        if not cells:
            return None
        totals = [sum(c[k] for _, c in cells) for k in (VIEW, ADD, PURCHASE)]
        return totals, min(i for i, _ in cells), lambda: (
            np.fromiter((i for i, _ in cells), dtype=np.int64, count=len(cells)),
            np.array([c for _, c in cells], dtype=np.float64).reshape(-1, 3))
    stored = np.fromiter(buckets, dtype=np.int64, count=len(buckets))
    inside = (stored >= start) & (stored <= end_bucket)
    if not inside.any():
        return None
    index = stored[inside]
    counts = np.array(list(buckets.values()), dtype=np.int64).reshape(-1, 3)[inside]
    return counts.sum(axis=0).tolist(), int(index.min()), lambda: (
        index, counts.astype(np.float64))


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
    return TrendReading(label=TrendLabel.STABLE, strength=0.0, direction="flat",
                        confidence=0.0, velocity=0.0, acceleration=0.0, level=0.0,
                        change=0.0, days=round(days, 4), views=totals[VIEW],
                        adds=totals[ADD], purchases=totals[PURCHASE], seasonality=source,
                        judged=False)


def _profile(index: IntArray, activity: FloatArray, first: int, end_bucket: int,
             config: TrendsConfig) -> tuple[WeeklyProfile, str]:
    if config.profile is not None:
        return config.profile, "given"
    per_day = config.buckets_per_day
    day0 = first // per_day + (first % per_day != 0)             # first complete day
    day1 = end_bucket // per_day + ((end_bucket + 1) % per_day == 0)  # after the last
    if day1 - day0 < config.seasonal_min_days:
        return _FLAT, "flat"
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
