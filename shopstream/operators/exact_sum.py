"""Exact sums of money amounts, the same in any order and any grouping.

Float addition is not associative: the revenue of a window summed order by order on one
key and the same revenue summed per key group and then merged may differ in the last bit,
and a last bit can move a rounded amount by a cent or flip a tie. An exact sum keeps the
running total as a short list of non-overlapping floats whose exact sum is the true sum
(Shewchuk's algorithm, the one behind :func:`math.fsum`); :func:`exact_value` rounds it
once, correctly. Two such lists merge exactly (:func:`merge_exact`), so a two-phase
aggregation gives the same value whatever the partition and the arrival order.

The list stays short: its floats do not overlap in binary digits, so it holds at most a
few dozen entries whatever the number of terms, and for amounts of cents one or two.

Examples
--------
>>> a, b = [], []
>>> for x in (0.1, 0.2, 0.3):
...     add_exact(a, x)
>>> for x in (0.3, 0.2, 0.1):
...     add_exact(b, x)
>>> exact_value(a) == exact_value(b) == 0.6, 0.1 + 0.2 + 0.3 == 0.3 + 0.2 + 0.1
(True, False)
>>> merged = []
>>> merge_exact(merged, a)
>>> merge_exact(merged, [1e100, -1e100])
>>> exact_value(merged)
0.6
"""

from __future__ import annotations

import math

__all__ = ["add_exact", "exact_value", "merge_exact"]


def add_exact(partials: list[float], x: float) -> None:
    """Add ``x`` to the exact sum ``partials`` (in place)."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def merge_exact(partials: list[float], other: list[float]) -> None:
    """Add the exact sum ``other`` to ``partials`` (in place)."""
    for x in other:
        add_exact(partials, x)


def exact_value(partials: list[float]) -> float:
    """The exact sum, correctly rounded to a float; ``inf`` (or ``-inf``) when the sum
    overflowed, as a plain float sum gives.

    >>> total: list[float] = []
    >>> add_exact(total, 1e308); add_exact(total, 1e308)
    >>> exact_value(total)
    inf
    """
    try:
        return math.fsum(partials)
    except ValueError:  # an overflow left -inf beside inf; the last partial is the sum
        return partials[-1]
