"""When sessions start: a daily traffic curve over a time window.

Traffic is quiet at night, climbs through the day and peaks in the evening, with
weekends a little busier. Times are UTC, as for a shop serving one main market.

Examples
--------
>>> import random
>>> starts = session_starts(random.Random(1), 500, 0, 2 * DAY_MS)
>>> len(starts), starts == sorted(starts), 0 <= starts[0] and starts[-1] < 2 * DAY_MS
(500, True, True)
>>> traffic_weight(20 * HOUR_MS) > traffic_weight(4 * HOUR_MS)
True
"""

from __future__ import annotations

import random

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "session_starts", "traffic_weight"]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# Relative traffic per hour of day, 00:00 to 23:00.
_HOURLY = (
    0.30, 0.18, 0.11, 0.08, 0.08, 0.11, 0.22, 0.40, 0.56, 0.66, 0.72, 0.78,
    0.84, 0.80, 0.74, 0.74, 0.80, 0.90, 0.98, 1.00, 0.97, 0.86, 0.66, 0.45,
)
_WEEKEND = 1.12
_MAX_WEIGHT = max(_HOURLY) * _WEEKEND


def traffic_weight(ts_ms: int) -> float:
    """Relative traffic at ``ts_ms`` (epoch ms, UTC).

    Examples
    --------
    >>> round(traffic_weight(19 * HOUR_MS), 2)  # 1970-01-01 was a Thursday
    1.0
    >>> round(traffic_weight(2 * DAY_MS + 19 * HOUR_MS), 2)  # Saturday
    1.12
    """
    hour = (ts_ms // HOUR_MS) % 24
    weekday = (ts_ms // DAY_MS + 3) % 7  # Monday = 0
    return _HOURLY[hour] * (_WEEKEND if weekday >= 5 else 1.0)


def session_starts(rng: random.Random, count: int, start_ms: int, end_ms: int) -> list[int]:
    """``count`` sorted session start times in ``[start_ms, end_ms)`` following the curve.

    Examples
    --------
    >>> session_starts(random.Random(0), 3, 1_000, 1_001)
    [1000, 1000, 1000]
    """
    span = max(1, end_ms - start_ms)
    starts: list[int] = []
    # Rejection sampling: cheap (about half the draws are kept) and exact for any window.
    while len(starts) < count:
        ts = start_ms + int(rng.random() * span)
        if rng.random() * _MAX_WEIGHT < traffic_weight(ts):
            starts.append(ts)
    starts.sort()
    return starts
