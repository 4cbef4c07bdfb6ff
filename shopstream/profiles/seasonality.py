"""Weekly seasonality: a day-of-week and an hour-of-day profile, multiplied.

Shopping has a weekly rhythm (evenings busier than nights, weekends unlike weekdays).
A :class:`WeeklyProfile` holds 7 day-of-week factors (Monday first, as
:meth:`datetime.date.weekday`, UTC) and 24 hour-of-day factors, each set averaging 1; the
activity expected in hour ``h`` of weekday ``d`` is the level times ``dow[d] * hod[h]``.
Dividing observed counts by these factors takes the weekly cycle out before a trend is
judged (see :mod:`shopstream.profiles.trends`).

:func:`estimate_profile` fits the factors to a 7 x 24 table of observed counts against a
table of what a season-free model expects in each cell (a trend; or the same number
everywhere), by two rounds of alternating ratios (iterative proportional fitting):
``dow[d] = (sum_h obs[d, h] + k) / (sum_h base[d, h] * hod[h] + k)``, then the same over
days for ``hod[h]``, each normalised to mean 1. ``k`` adds ``prior_days`` days of
season-free data to every ratio, which pulls the factors towards 1 when there is little
data (a product seen a few times must not get a wild profile). Cost: O(7 x 24).

Examples
--------
>>> flat = WeeklyProfile.flat()
>>> flat.factor(0)  # 1970-01-01 00:00 UTC, a Thursday
1.0
>>> obs = [[0.0] * 24 for _ in range(7)]
>>> for d in range(7):
...     for h in range(24):
...         obs[d][h] = 10.0 * (2.0 if d >= 5 else 1.0) * (3.0 if h == 20 else 1.0)
>>> base = [[1.0] * 24 for _ in range(7)]
>>> profile = estimate_profile(obs, base, prior_days=0.0)
>>> [round(f, 3) for f in profile.day_of_week]
[0.778, 0.778, 0.778, 0.778, 0.778, 1.556, 1.556]
>>> round(profile.hour_of_day[20], 3), round(profile.hour_of_day[3], 3)
(2.769, 0.923)
>>> round(profile.factor(5 * 86_400_000 + 20 * 3_600_000), 3)  # Tuesday 20:00 UTC
2.154
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from shopstream.profiles.errors import ProfileError

__all__ = ["DAY_MS", "HOUR_MS", "WeeklyProfile", "day_of_week", "estimate_profile",
           "hour_of_day", "week_cells"]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday is 0)


def day_of_week(ts_ms: int) -> int:
    """UTC weekday of an epoch-millisecond time, Monday 0 (as ``date.weekday()``).

    >>> day_of_week(0), day_of_week(4 * 86_400_000)
    (3, 0)
    """
    return (ts_ms // DAY_MS + _EPOCH_WEEKDAY) % 7


def hour_of_day(ts_ms: int) -> int:
    """UTC hour of an epoch-millisecond time.

    >>> hour_of_day(3_600_000 * 25)
    1
    """
    return (ts_ms % DAY_MS) // HOUR_MS


def week_cells(ts_ms: NDArray[np.int64]) -> NDArray[np.int64]:
    """``weekday * 24 + hour`` (UTC, Monday 0) of each epoch-millisecond time.

    >>> week_cells(np.array([0, 4 * 86_400_000 + 3_600_000])).tolist()
    [72, 1]
    """
    cells: NDArray[np.int64] = ((ts_ms // DAY_MS + _EPOCH_WEEKDAY) % 7) * 24 \
        + (ts_ms % DAY_MS) // HOUR_MS
    return cells


@dataclass(frozen=True)
class WeeklyProfile:
    """Multiplicative weekly profile: 7 day-of-week and 24 hour-of-day factors.

    Both sets must be finite and positive; they are used as given (build one with
    :meth:`normalised` or :func:`estimate_profile` to make each average 1).
    """

    day_of_week: tuple[float, ...]
    hour_of_day: tuple[float, ...]

    def __post_init__(self) -> None:
        for name, values, size in (("day_of_week", self.day_of_week, 7),
                                   ("hour_of_day", self.hour_of_day, 24)):
            if len(values) != size or not all(math.isfinite(v) and v > 0 for v in values):
                msg = (f"WeeklyProfile.{name} needs {size} finite factors > 0, "
                       f"got {values!r}")
                raise ProfileError(msg)

    @classmethod
    def flat(cls) -> WeeklyProfile:
        """No seasonality: every factor 1."""
        return cls((1.0,) * 7, (1.0,) * 24)

    @classmethod
    def normalised(cls, day_of_week: Sequence[float],
                   hour_of_day: Sequence[float]) -> WeeklyProfile:
        """A profile from any positive weights, each set scaled to average 1.

        >>> WeeklyProfile.normalised([2] * 7, [5] * 24) == WeeklyProfile.flat()
        True
        """
        return cls(_unit_mean(day_of_week, "day_of_week"),
                   _unit_mean(hour_of_day, "hour_of_day"))

    def factor(self, ts_ms: int) -> float:
        """Expected activity at ``ts_ms`` relative to an average hour of the week."""
        return self.day_of_week[day_of_week(ts_ms)] * self.hour_of_day[hour_of_day(ts_ms)]

    def factors(self, ts_ms: NDArray[np.int64]) -> NDArray[np.float64]:
        """:meth:`factor` of each time in an array."""
        table = np.outer(self.day_of_week, self.hour_of_day).ravel()
        result: NDArray[np.float64] = table[week_cells(ts_ms)]
        return result

    def is_flat(self) -> bool:
        """Whether every factor is 1."""
        return all(v == 1.0 for v in self.day_of_week + self.hour_of_day)


def estimate_profile(observed: Sequence[Sequence[float]], baseline: Sequence[Sequence[float]],
                     *, prior_days: float = 2.0, days: float = 7.0) -> WeeklyProfile:
    """Fit a :class:`WeeklyProfile` to a 7 x 24 table of counts (rows: weekday, Monday
    first; columns: UTC hour) against the season-free expectation ``baseline``.

    Raises
    ------
    ProfileError
        A table is not 7 x 24, holds a negative or non-finite value, ``baseline`` sums
        to 0, or ``prior_days`` is negative.
    """
    _check_table(observed, "observed")
    _check_table(baseline, "baseline")
    if not (math.isfinite(prior_days) and prior_days >= 0):
        msg = f"estimate_profile: prior_days must be >= 0, got {prior_days!r}"
        raise ProfileError(msg)
    if not (math.isfinite(days) and days > 0):
        msg = f"estimate_profile: days must be > 0, got {days!r}"
        raise ProfileError(msg)
    total_base = sum(sum(row) for row in baseline)
    if total_base <= 0:
        msg = "estimate_profile: the baseline table sums to 0"
        raise ProfileError(msg)
    # ``k``: prior_days days' worth of the average baseline, spread like the table.
    per_day = total_base / days
    k_day = prior_days * per_day
    k_hour = prior_days * per_day / 24.0
    dow = [1.0] * 7
    hod = [1.0] * 24
    for _ in range(2):
        dow = list(_unit_mean([
            (sum(observed[d]) + k_day)
            / (sum(baseline[d][h] * hod[h] for h in range(24)) + k_day) or 1.0
            for d in range(7)], "day_of_week"))
        hod = list(_unit_mean([
            (sum(observed[d][h] for d in range(7)) + k_hour)
            / (sum(baseline[d][h] * dow[d] for d in range(7)) + k_hour) or 1.0
            for h in range(24)], "hour_of_day"))
    return WeeklyProfile(tuple(dow), tuple(hod))


def _unit_mean(values: Sequence[float], name: str) -> tuple[float, ...]:
    # A cell with nothing observed and no prior would be 0: keep it a small positive
    # factor so that dividing by the profile stays defined.
    floor = 1e-3
    clean = [max(float(v), floor) if math.isfinite(v) else math.nan for v in values]
    mean = sum(clean) / len(clean) if clean else math.nan
    if not (math.isfinite(mean) and mean > 0):
        msg = f"WeeklyProfile.{name}: weights must be finite and positive, got {values!r}"
        raise ProfileError(msg)
    return tuple(v / mean for v in clean)


def _check_table(table: Sequence[Sequence[float]], name: str) -> None:
    if len(table) != 7 or any(len(row) != 24 for row in table):
        msg = f"estimate_profile: {name} must be 7 rows of 24 hours"
        raise ProfileError(msg)
    for d, row in enumerate(table):
        for h, value in enumerate(row):
            if not (math.isfinite(value) and value >= 0):
                msg = f"estimate_profile: {name}[{d}][{h}] must be >= 0, got {value!r}"
                raise ProfileError(msg)
