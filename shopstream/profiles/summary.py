"""Per-customer ``(x, t_x, T, m_x)`` summaries from a transaction log.

A transaction is ``(customer_id, day, amount)``. As in the BG/NBD and Gamma-Gamma papers,
purchases on the same day count as one transaction (their amounts add up), ``frequency``
counts the *repeat* transaction days in the calibration period, ``recency`` and ``age`` are
measured from the first purchase in ``period_days``-day periods, and ``average_value`` is
the mean value of the repeat transactions (0 without any). Customers whose first purchase
falls after the calibration end are left out.

Examples
--------
>>> from datetime import date
>>> log = [("a", date(1997, 1, 1), 10.0), ("a", date(1997, 1, 1), 5.0),
...        ("a", date(1997, 1, 15), 20.0), ("a", date(1997, 2, 1), 30.0),
...        ("b", date(1997, 1, 8), 12.0), ("a", date(1997, 3, 1), 9.0)]
>>> for s in summarise(log, calibration_end=date(1997, 2, 12)):
...     print(s.customer_id, s.frequency, round(s.recency, 3), round(s.age, 3),
...           s.average_value, s.holdout_frequency)
a 2 4.429 6.0 25.0 1
b 0 0.0 5.0 0.0 0
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

__all__ = ["CustomerSummary", "summarise"]


@dataclass(frozen=True)
class CustomerSummary:
    """One customer's calibration summary and holdout count."""

    customer_id: str
    frequency: int
    """Repeat transaction days in the calibration period (``x``)."""
    recency: float
    """First to last calibration transaction, in periods (``t_x``)."""
    age: float
    """First transaction to the calibration end, in periods (``T``)."""
    average_value: float
    """Mean value of the repeat calibration transactions (``m_x``); 0 when ``x = 0``."""
    holdout_frequency: int
    """Transaction days after the calibration end (up to ``holdout_end``, if given)."""


def summarise(transactions: Iterable[tuple[str, date, float]], *, calibration_end: date,
              holdout_end: date | None = None,
              period_days: float = 7.0) -> list[CustomerSummary]:
    """One :class:`CustomerSummary` per customer first seen by ``calibration_end``
    (inclusive), in order of customer id."""
    daily: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for customer_id, day, amount in transactions:
        daily[customer_id][day] += amount
    summaries = []
    for customer_id in sorted(daily):
        by_day = daily[customer_id]
        calibration = sorted(d for d in by_day if d <= calibration_end)
        if not calibration:
            continue
        first, last = calibration[0], calibration[-1]
        repeats = calibration[1:]
        holdout = [d for d in by_day
                   if d > calibration_end and (holdout_end is None or d <= holdout_end)]
        summaries.append(CustomerSummary(
            customer_id=customer_id,
            frequency=len(repeats),
            recency=(last - first).days / period_days,
            age=(calibration_end - first).days / period_days,
            average_value=sum(by_day[d] for d in repeats) / len(repeats) if repeats else 0.0,
            holdout_frequency=len(holdout),
        ))
    return summaries
