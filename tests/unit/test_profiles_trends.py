"""Trend detection on synthetic series of known shape, and the weekly profile."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from shopstream.profiles.errors import ProfileError
from shopstream.profiles.seasonality import (
    DAY_MS,
    HOUR_MS,
    WeeklyProfile,
    day_of_week,
    estimate_profile,
    hour_of_day,
)
from shopstream.profiles.trends import (
    ADD,
    PURCHASE,
    VIEW,
    ActivitySeries,
    TrendBook,
    TrendLabel,
    TrendReading,
    TrendsConfig,
    read_trend,
)

DAYS = 28
START_MS = 1_700_006_400_000  # 2023-11-15 00:00 UTC, a Wednesday
# A shop's week: weekends busier, evenings busier, nights quiet (means 1).
WEEK = WeeklyProfile.normalised([1.0, 0.9, 0.9, 1.0, 1.2, 1.8, 1.6],
                                [0.1] * 6 + [0.6, 1, 1.2, 1.2, 1.3, 1.4, 1.5, 1.3, 1.2,
                                             1.2, 1.3, 1.6, 2.2, 2.5, 2.3, 1.6, 0.8, 0.3])


def series_of(rate: Callable[[float], float], *, seed: int, days: int = DAYS,
              cycle: WeeklyProfile = WEEK, config: TrendsConfig | None = None) -> ActivitySeries:
    """Poisson views (and a tenth of adds, a fiftieth purchases) per hour at
    ``rate(day) * cycle.factor(t)`` per hour."""
    cfg = config or TrendsConfig()
    rng = np.random.default_rng(seed)
    series = ActivitySeries()
    for hour in range(days * 24):
        ts = START_MS + hour * HOUR_MS
        mean = rate(hour / 24) * cycle.factor(ts)
        for kind, share in ((VIEW, 1.0), (ADD, 0.1), (PURCHASE, 0.02)):
            n = int(rng.poisson(mean * share))
            if n:
                series.add(kind, n, ts, cfg)
    return series


def read(series: ActivitySeries, days: int = DAYS,
         config: TrendsConfig | None = None) -> TrendReading:
    cfg = config or TrendsConfig()
    return read_trend(series, (START_MS + days * DAY_MS) // cfg.bucket_ms - 1, cfg)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ramp_is_rising(seed: int) -> None:
    reading = read(series_of(lambda d: 5.0 + 0.5 * d, seed=seed))  # 5 -> 19 views/hour
    assert reading.label is TrendLabel.RISING and reading.direction == "up"
    assert reading.velocity > 0 and reading.change > 0.5 and reading.strength > 0.5
    assert reading.confidence > 0.95 and reading.seasonality == "own"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decay_is_falling(seed: int) -> None:
    reading = read(series_of(lambda d: 30.0 * math.exp(-d / 10), seed=seed))
    assert reading.label is TrendLabel.FALLING and reading.direction == "down"
    assert reading.velocity < 0 and reading.change < -0.5
    # Exponential decay slows down: the fall decelerates (positive second derivative).
    assert reading.acceleration > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flat_with_a_weekly_cycle_is_stable(seed: int) -> None:
    reading = read(series_of(lambda d: 10.0, seed=seed))
    assert reading.label is TrendLabel.STABLE and reading.direction == "flat"
    assert abs(reading.change) < 0.1 and reading.strength > 0.5


@pytest.mark.parametrize("end_day", [26, 27, 28])
def test_weekly_cycle_taken_out_at_any_weekday_and_hour(end_day: int) -> None:
    """The window ends on a weekend peak or a Monday, mid-evening or at night; the flat
    series stays stable, and the cycle's profile is recovered."""
    series = series_of(lambda d: 10.0, seed=7)
    cfg = TrendsConfig()
    for hours in (0, 3, 20):
        end = (START_MS + (end_day - 1) * DAY_MS + hours * HOUR_MS) // HOUR_MS - 1
        reading = read_trend(series, end, cfg)
        assert reading.label is TrendLabel.STABLE, (end_day, hours, reading)


def test_without_taking_the_season_out_a_weekend_looks_like_a_rise() -> None:
    """Why the profile matters: one week ending on a busy weekend reads as rising when
    the weekly cycle is left in (a flat profile given), stable when it is taken out."""
    series = series_of(lambda d: 10.0, seed=4, days=12)
    end = (START_MS + 12 * DAY_MS) // HOUR_MS - 1  # the window is Monday to Sunday
    naive = read_trend(series, end, TrendsConfig(days=7, profile=WeeklyProfile.flat()))
    aware = read_trend(series, end, TrendsConfig(days=7, profile=WEEK))
    assert naive.label is TrendLabel.RISING
    assert aware.label is TrendLabel.STABLE and aware.seasonality == "given"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spike_is_volatile(seed: int) -> None:
    reading = read(series_of(lambda d: 60.0 if 12 <= d < 14 else 6.0, seed=seed))
    assert reading.label is TrendLabel.VOLATILE and reading.strength > 0.5


def test_too_little_data_is_stable_with_no_confidence() -> None:
    series = ActivitySeries()
    cfg = TrendsConfig()
    for hour in range(48):
        series.add(VIEW, 5, START_MS + hour * HOUR_MS, cfg)
    reading = read_trend(series, (START_MS // HOUR_MS) + 47, cfg)
    assert reading.label is TrendLabel.STABLE and reading.confidence == 0.0
    assert reading.views == 240 and reading.days == 2.0
    empty = read_trend(ActivitySeries(), 10, cfg)
    assert (empty.views, empty.confidence, empty.days) == (0, 0.0, 0.0)


def test_ring_is_bounded_and_pruned() -> None:
    cfg = TrendsConfig(days=2)
    series = ActivitySeries()
    for hour in range(24 * 10):
        series.add(VIEW, 1, hour * HOUR_MS, cfg)
    series.prune(24 * 10 - 1, cfg)
    assert len(series.buckets) == cfg.ring_buckets == 48
    assert min(series.buckets) == 24 * 8


def test_book_caps_keys_and_reads() -> None:
    book = TrendBook(TrendsConfig(max_keys=3))
    for i, key in enumerate("abcde"):
        book.add(key, VIEW, 1, i * HOUR_MS)
    assert sorted(book.keys()) == ["c", "d", "e"]
    reading = book.read("e", 5 * HOUR_MS)
    assert reading is not None and reading.views == 1
    assert book.read("a", 5 * HOUR_MS) is None


def test_estimate_profile_recovers_a_cycle_and_shrinks_sparse_data() -> None:
    observed = [[100.0 * WEEK.day_of_week[d] * WEEK.hour_of_day[h] for h in range(24)]
                for d in range(7)]
    baseline = [[100.0] * 24 for _ in range(7)]
    profile = estimate_profile(observed, baseline, prior_days=0.0)
    assert np.allclose(profile.day_of_week, WEEK.day_of_week)
    assert np.allclose(profile.hour_of_day, WEEK.hour_of_day)
    sparse = [[row[h] / 1000 for h in range(24)] for row in observed]
    shrunk = estimate_profile(sparse, [[0.1] * 24 for _ in range(7)], prior_days=20.0)
    assert max(abs(f - 1) for f in shrunk.day_of_week) < \
        max(abs(f - 1) for f in WEEK.day_of_week) / 2


def test_calendar_helpers() -> None:
    assert day_of_week(START_MS) == 2 and hour_of_day(START_MS + 5 * HOUR_MS) == 5


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TrendsConfig(bucket_ms=7_000_000), "bucket_ms must divide an hour"),
    (lambda: TrendsConfig(days=1), "days must be >= 2"),
    (lambda: TrendsConfig(min_change=-1.0), "min_change must be a finite number"),
    (lambda: WeeklyProfile((1.0,) * 6, (1.0,) * 24), "day_of_week needs 7"),
    (lambda: WeeklyProfile((1.0,) * 7, (0.0,) * 24), "hour_of_day needs 24"),
    (lambda: estimate_profile([[1.0] * 24] * 6, [[1.0] * 24] * 7), "7 rows of 24"),
    (lambda: estimate_profile([[1.0] * 24] * 7, [[0.0] * 24] * 7), "sums to 0"),
])
def test_bad_settings_name_the_field(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        make()
