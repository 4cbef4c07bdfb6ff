"""Wake-up calls for rules whose own itemset count did not change.

A rule ``A -> c`` depends on four counts: ``count(A u {c})``, ``count(A)``, ``count(c)``
and the basket count ``N``. When the first one changes, the miner re-checks the rule
anyway. The other three change for *many* rules at once (every basket moves ``N`` while
a window fills; a popular item's count moves with every basket that holds it, and with
it every rule that has the item as antecedent or consequent), and for nearly all of
those rules nothing observable happens: no threshold is crossed and the metrics stay
within the tolerance of the published version.

So each rule gets a box of ``(N, count(A), count(c))`` within which nothing observable
can happen (:func:`stable_bounds`), and is registered to be woken when one of the three
leaves its interval. Moving ``N`` from 10,000 to 10,001 then wakes only the rules
registered at 10,001, not all of them.

Examples
--------
>>> watch = Watch()
>>> watch.watch(((1, 2), 0), (None, 11, None, None, 4, None), antecedent=(2,), consequent=1)
>>> watch.due_n(10, 11)
set()
>>> watch.due_n(11, 12)
{((1, 2), 0)}
>>> watch.due_count((1,), 5, 4)   # already woken and forgotten
set()
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import TypeVar

from shopstream.mining.rules import Rule
from shopstream.mining.tracker import Codes

__all__ = ["CodedKey", "Watch", "stable_bounds"]

CodedKey = tuple[Codes, int]
"""A rule as ``(itemset codes, position of the consequent in the itemset)``."""

_K = TypeVar("_K", bound=Hashable)

Bounds = tuple[int | None, int | None, int | None, int | None, int | None, int | None]
"""``(n_lo, n_hi, antecedent_lo, antecedent_hi, consequent_lo, consequent_hi)``."""

# Relative slack on float bounds: a rule woken a little early is only re-checked.
_SLACK = 1e-9


def _tighter_high(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def stable_bounds(count: int, antecedent_count: int, consequent_count: int, basket_count: int,
                  confidence: tuple[int, int], lift: tuple[int, int], published: Rule | None,
                  tolerance: float) -> tuple[bool, Bounds]:
    """Whether the rule passes confidence and lift, and the box where that holds still.

    Anywhere in the box (``N``, ``count(A)`` and ``count(c)`` moving at once,
    ``count(A u {c})`` fixed) the confidence and lift tests keep their answers and, for a
    published rule, support, confidence and lift stay within ``tolerance`` of the
    published values. ``None`` is unbounded. The three moves can add up (lift is
    ``count * N / (count(A) * count(c))``), so the box splits the slack between them.

    Examples
    --------
    >>> stable_bounds(10, 20, 40, 100, (3, 10), (1, 1), None, 0.05)
    (True, (94, None, None, 21, None, 41))
    >>> stable_bounds(10, 40, 40, 100, (3, 10), (1, 1), None, 0.05)
    (False, (None, None, 34, None, None, None))
    """
    conf_num, conf_den = confidence
    lift_num, lift_den = lift
    ante, cons, n = antecedent_count, consequent_count, basket_count
    if count * conf_den < conf_num * antecedent_count:
        # only a smaller antecedent count can lift the confidence over the threshold
        return False, (None, None, count * conf_den // conf_num + 1, None, None, None)
    n_lo = n_hi = ante_lo = ante_hi = cons_lo = cons_hi = None
    if conf_num:
        ante_hi = count * conf_den // conf_num
    if lift_num:
        margin = count * n * lift_den - lift_num * ante * cons
        if margin < 0:
            # may start passing when N grows and the two counts shrink; a third of the
            # margin each (the product of the shrinking counts falls by at most the sum)
            third = (-margin - 1) // 3
            return False, (None, n + third // (count * lift_den),
                           ante - third // (lift_num * cons), None,
                           cons - third // (lift_num * ante), None)
        # may stop passing when N shrinks and the counts grow; each count at most doubles,
        # so (ante + b)(cons + c) - ante * cons <= b * cons + 2 * c * ante
        third = margin // 3
        n_lo = n - third // (count * lift_den)
        ante_hi = _tighter_high(ante_hi, ante + min(ante, third // (lift_num * cons)))
        cons_hi = cons + min(cons, third // (2 * lift_num * ante))
    if published is None:
        return True, (n_lo, n_hi, ante_lo, ante_hi, cons_lo, cons_hi)
    return True, _tolerance_box(count, n, ante, cons, published, tolerance,
                                (n_lo, n_hi, ante_lo, ante_hi, cons_lo, cons_hi))


def _tolerance_box(count: int, n: int, ante: int, cons: int, published: Rule,
                   tolerance: float, box: Bounds) -> Bounds:
    """``box`` (where the thresholds keep their answers) narrowed to where support,
    confidence and lift stay within ``tolerance`` of the ``published`` rule's.

    It runs for every published rule a basket wakes, so its bounds are written out:
    a lower bound is the smallest integer surely above ``v`` (``floor(v + |v| slack) +
    1``), an upper one the largest surely below (``ceil(v - |v| slack) - 1``), each kept
    when tighter than the box's.
    """
    n_lo, n_hi, ante_lo, ante_hi, cons_lo, cons_hi = box
    if tolerance <= 0:
        return (n, n, ante, ante, cons, cons)
    shrink = 1 - tolerance
    floor, ceil, slack = math.floor, math.ceil, _SLACK
    # support = count / N and confidence = count / count(A), each within tolerance
    support, confidence = published.support, published.confidence
    v = count * shrink / support
    b = floor(v + abs(v) * slack) + 1
    n_lo = b if n_lo is None or b > n_lo else n_lo
    v = count / (support * shrink)
    b = ceil(v - abs(v) * slack) - 1
    n_hi = b if n_hi is None or b < n_hi else n_hi
    v = count * shrink / confidence
    b = floor(v + abs(v) * slack) + 1
    ante_lo = b if ante_lo is None or b > ante_lo else ante_lo
    v = count / (confidence * shrink)
    b = ceil(v - abs(v) * slack) - 1
    ante_hi = b if ante_hi is None or b < ante_hi else ante_hi
    # lift may move by a factor in [low, high]: a cube root of it for each count
    now = count * n / (ante * cons)
    low, high = published.lift * shrink / now, published.lift / (shrink * now)
    if not low <= 1 <= high:
        return (n, n, ante, ante, cons, cons)
    low, high = low ** (1 / 3), high ** (1 / 3)
    v = n * low
    b = floor(v + abs(v) * slack) + 1
    n_lo = b if b > n_lo else n_lo
    v = n * high
    b = ceil(v - abs(v) * slack) - 1
    n_hi = b if b < n_hi else n_hi
    v = ante / high
    b = floor(v + abs(v) * slack) + 1
    ante_lo = b if b > ante_lo else ante_lo
    v = ante / low
    b = ceil(v - abs(v) * slack) - 1
    ante_hi = b if b < ante_hi else ante_hi
    v = cons / high
    b = floor(v + abs(v) * slack) + 1
    cons_lo = b if cons_lo is None or b > cons_lo else cons_lo
    v = cons / low
    b = ceil(v - abs(v) * slack) - 1
    cons_hi = b if cons_hi is None or b < cons_hi else cons_hi
    # Rounding can leave the current point outside; it stays in the box (so any move
    # away wakes the rule), and a drift already past the tolerance is pending anyway.
    return (n if n < n_lo else n_lo, n if n > n_hi else n_hi,
            ante if ante < ante_lo else ante_lo, ante if ante > ante_hi else ante_hi,
            cons if cons < cons_lo else cons_lo, cons if cons > cons_hi else cons_hi)


class Watch:
    """Rules registered to be woken when ``N`` or a count they use leaves its interval."""

    def __init__(self) -> None:
        self._bounds: dict[CodedKey, tuple[Bounds, Codes, Codes]] = {}
        self._n_up: dict[int, set[CodedKey]] = {}
        self._n_down: dict[int, set[CodedKey]] = {}
        self._up: dict[tuple[Codes, int], set[CodedKey]] = {}
        self._down: dict[tuple[Codes, int], set[CodedKey]] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._bounds

    def __len__(self) -> int:
        return len(self._bounds)

    def clear(self) -> None:
        """Forget every registration."""
        self._bounds.clear()
        self._n_up.clear()
        self._n_down.clear()
        self._up.clear()
        self._down.clear()

    def watch(self, key: CodedKey, bounds: Bounds, antecedent: Codes, consequent: int) -> None:
        """(Re-)register ``key`` with the box ``bounds`` (``None``: unbounded)."""
        self.unwatch(key)
        if all(bound is None for bound in bounds):
            return
        head = (consequent,)
        self._bounds[key] = (bounds, antecedent, head)
        n_lo, n_hi, ante_lo, ante_hi, cons_lo, cons_hi = bounds
        if n_hi is not None:
            self._n_up.setdefault(n_hi + 1, set()).add(key)
        if n_lo is not None:
            self._n_down.setdefault(n_lo - 1, set()).add(key)
        for itemset, low, high in ((antecedent, ante_lo, ante_hi), (head, cons_lo, cons_hi)):
            if high is not None:
                self._up.setdefault((itemset, high + 1), set()).add(key)
            if low is not None:
                self._down.setdefault((itemset, low - 1), set()).add(key)

    def unwatch(self, key: CodedKey) -> None:
        """Forget ``key``'s registration, if any."""
        entry = self._bounds.pop(key, None)
        if entry is None:
            return
        (n_lo, n_hi, ante_lo, ante_hi, cons_lo, cons_hi), antecedent, head = entry
        if n_hi is not None:
            _discard(self._n_up, n_hi + 1, key)
        if n_lo is not None:
            _discard(self._n_down, n_lo - 1, key)
        for itemset, low, high in ((antecedent, ante_lo, ante_hi), (head, cons_lo, cons_hi)):
            if high is not None:
                _discard(self._up, (itemset, high + 1), key)
            if low is not None:
                _discard(self._down, (itemset, low - 1), key)

    def due_n(self, before: int, now: int) -> set[CodedKey]:
        """Rules whose ``N`` interval was left when ``N`` moved from ``before`` to ``now``."""
        if now > before:
            return self._take(self._n_up, range(before + 1, now + 1))
        return self._take(self._n_down, range(now, before))

    def due_count(self, itemset: Codes, before: int, now: int) -> set[CodedKey]:
        """Rules using ``count(itemset)`` whose interval it left moving to ``now``."""
        if now > before:
            return self._take(self._up, [(itemset, v) for v in range(before + 1, now + 1)])
        return self._take(self._down, [(itemset, v) for v in range(now, before)])

    def _take(self, buckets: dict[_K, set[CodedKey]], where: Iterable[_K]) -> set[CodedKey]:
        woken: set[CodedKey] = set()
        for point in where:
            keys = buckets.get(point)
            if keys:
                woken.update(keys)
        for key in woken:
            self.unwatch(key)
        return woken


def _discard(buckets: dict[_K, set[CodedKey]], point: _K, key: CodedKey) -> None:
    keys = buckets.get(point)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del buckets[point]
