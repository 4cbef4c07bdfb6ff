"""Bounded, decaying counts of the products seen with one anchor product: the merge side
of every pair model (next items, co-occurrence, bought together, popularity).

Each :class:`AnchorCounts` holds at most ``2 * capacity`` products plus the products
added at its newest event time: when the counts move on to a later time with more than
``2 * capacity``, only the ``capacity`` strongest are kept (so a newcomer has
``capacity`` arrivals to prove itself before it can be dropped; the cost is amortised
``O(log capacity)`` per added product). The counts do not depend on the order in which
the deltas of one time arrive (a parallel engine's learners publish theirs at the same
interval end, in any order): pruning waits until time moves on (pruning after each
delta let the first arrivals push out a product a later delta would have kept), and a
product's weights of one time are summed exactly (:func:`math.fsum`), since float
addition is not associative (``1 + 1 + 1/3`` and ``1/3 + 1 + 1`` differ in the last bit,
which decides the order of two otherwise equal counts).
Counts halve every ``half_life_ms`` of event time, applied lazily when new counts
arrive, so old habits fade and a long run does not let early data dominate.

Cost: :meth:`AnchorCounts.add` is ``O(len(items))`` amortised; :meth:`AnchorCounts.top`
sorts at most ``2 * capacity`` entries plus the newest time's additions. Memory per
anchor: ``O(capacity)`` plus one time's deltas (at most ``key_groups`` learners'
pending entries), whatever the history.

Examples
--------
>>> cfg = CountsConfig(capacity=2, top_n=2, half_life_ms=1_000)
>>> counts = AnchorCounts()
>>> counts.add(("b", "c"), (1.0, 3.0), 0, cfg)
>>> counts.add(("b", "d"), (1.0, 1.0), 0, cfg)
>>> counts.top(cfg)
(('c', 'b'), (3.0, 2.0))
>>> counts.add(("d",), (1.0,), 1_000, cfg)   # a half-life later: the old counts halve
>>> counts.top(cfg)
(('c', 'd'), (1.5, 1.5))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shopstream.errors import require_positive

__all__ = ["AnchorCounts", "CountsConfig"]


@dataclass(frozen=True)
class CountsConfig:
    """Caps and decay of the per-anchor counts.

    Parameters
    ----------
    capacity
        Products whose counts are kept per anchor (up to twice as many between prunes).
    top_n
        Length of the published list of an anchor.
    half_life_ms
        Event time after which a count halves (default 14 days; 0 turns decay off).
    """

    capacity: int = 100
    top_n: int = 20
    half_life_ms: int = 14 * 86_400_000

    def __post_init__(self) -> None:
        require_positive(self, "capacity", "top_n")
        require_positive(self, "half_life_ms", allow_zero=True)


class AnchorCounts:
    """The counts of one anchor; see the module documentation."""

    __slots__ = ("added_ms", "at_ms", "counts", "fresh", "last", "touched")

    def __init__(self) -> None:
        self.counts: dict[str, float] = {}
        #: Event time the counts are decayed to.
        self.at_ms = 0
        #: Event time of the newest :meth:`add` (pruning waits until time moves on).
        self.added_ms = 0
        #: The products :meth:`top` gave last, and those counted since (``None``: counts
        #: decayed or pruned since, or never asked: the next top sorts them all).
        self.last: tuple[str, ...] = ()
        self.touched: set[str] | None = None
        #: Per product counted at ``added_ms``: its count before that time, then each
        #: weight added at that time (summed exactly, whatever their order).
        self.fresh: dict[str, list[float]] = {}

    def __setstate__(self, state: Any) -> None:
        """Restore a snapshot (older ones hold only ``counts`` and ``at_ms``)."""
        slots: dict[str, Any] = state[1] if isinstance(state, tuple) else state
        self.counts = slots.get("counts", {})
        self.at_ms = slots.get("at_ms", 0)
        self.added_ms = slots.get("added_ms", self.at_ms)
        self.last = slots.get("last", ())
        self.touched = slots.get("touched")
        self.fresh = slots.get("fresh", {})

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, items: Sequence[str], weights: Sequence[float], now_ms: int,
            config: CountsConfig) -> None:
        """Add ``weights`` to ``items``, after decaying the counts to ``now_ms`` (and
        pruning them to ``capacity`` when ``now_ms`` is later than the last add's time)."""
        counts = self.counts
        if now_ms > self.added_ms:
            self.added_ms = now_ms
            self.fresh = {}
            if len(counts) > 2 * config.capacity:
                kept = sorted(sorted(counts), key=counts.__getitem__,
                              reverse=True)[:config.capacity]
                counts = self.counts = {p: counts[p] for p in kept}
                self.touched = None
        if now_ms > self.at_ms:
            if counts and config.half_life_ms:
                factor = 0.5 ** ((now_ms - self.at_ms) / config.half_life_ms)
                # A factor this close to 1 waits (the counts stay decayed to at_ms) until
                # the gap grows: skipping it while moving at_ms on would lose the decay
                # of an anchor counted more often than every half hour.
                if factor < 0.999:
                    counts = self.counts = {p: c * factor for p, c in counts.items()}
                    self.touched = None  # rounding may tie counts: sort them all
                    self.at_ms = now_ms
            else:
                self.at_ms = now_ms
        fresh = self.fresh
        for product, weight in zip(items, weights, strict=True):
            terms = fresh.get(product)
            if terms is None:
                old = counts.get(product, 0.0)
                fresh[product] = [old, weight]
                counts[product] = old + weight  # two terms: already the exact sum rounded
            else:
                terms.append(weight)
                counts[product] = math.fsum(terms)
        touched = self.touched
        if touched is not None:
            touched.update(items)

    def top(self, config: CountsConfig) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The ``top_n`` strongest products and their counts (equal counts in product
        order, so the list does not depend on which learner's counts arrived first: a
        parallel engine delivers them in any order).

        Counts only grow between two calls unless they decayed or were pruned, so the new
        best are among the last best and the products counted since: only those are
        sorted (two C-level sorts of at most ``top_n`` + new products); otherwise all."""
        counts = self.counts
        touched = self.touched
        if touched is None or len(self.last) < config.top_n:
            candidates: Iterable[str] = counts
        else:
            candidates = touched.union(self.last)
        best = sorted(sorted(candidates), key=counts.__getitem__, reverse=True)[:config.top_n]
        self.last = tuple(best)
        self.touched = set()
        return self.last, tuple([counts[p] for p in best])
