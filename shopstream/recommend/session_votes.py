"""A session's co-occurrence votes, kept as the session goes instead of recomputed per
request.

CO_OCCURRENCE scores a product by the co-occurrence lists of every product of the
session, each older product weighing ``decay`` times the next newer one. Recomputing
that sum per request costs ``session length x depth``; :class:`SessionVotes` keeps it:
when a product first joins the session its list (as published at that moment) is added
with weight ``decay ** -step``. Every earlier vote thus shrinks by ``decay`` relative to the
new ones without being touched, and the order of the votes is what the decayed sum
would give. A request then costs one pass over at most ``2 * capacity`` votes, whatever
the session's length; adding a product costs ``depth``.

Examples
--------
>>> from shopstream.events.recommendations import ModelList
>>> from shopstream.recommend.published import PublishedLists
>>> lists = PublishedLists()
>>> lists.apply(ModelList("CO_OCCURRENCE", "tea", 0, ("milk", "cake"), (3.0, 1.0)))
>>> lists.apply(ModelList("CO_OCCURRENCE", "jam", 0, ("cake", "bread"), (5.0, 1.0)))
>>> votes = SessionVotes()
>>> votes.add("tea", lists.table("CO_OCCURRENCE"), 1, depth=20, decay=0.5, capacity=100)
>>> votes.add("jam", lists.table("CO_OCCURRENCE"), 2, depth=20, decay=0.5, capacity=100)
>>> [(p, round(v, 4)) for p, v in sorted(votes.actual().items(), key=lambda e: -e[1])]
[('cake', 0.1326), ('bread', 0.0833), ('milk', 0.0455)]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shopstream.recommend.base import RANK_WEIGHTS
from shopstream.recommend.published import lookup

__all__ = ["SessionVotes", "add_votes"]

# Past this lift the votes are rescaled (far from float overflow).
_MAX_LIFT = 1e100


def add_votes(scores: dict[str, float], sources: dict[str, str], products: Iterable[str],
              values: Iterable[float], factor: float, names: Iterable[str]) -> None:
    """Add ``factor * value`` to each product's score; a product new to ``scores`` gets
    its name (from ``names``, in step with ``products``) in ``sources``. What a kept
    ``BLENDED`` list and a strategy voting with its kept votes both do.

    Examples
    --------
    >>> scores, sources = {"a": 1.0}, {"a": "X"}
    >>> add_votes(scores, sources, ["a", "b"], [2.0, 3.0], 0.5, ["Y", "Y"])
    >>> scores, sources
    ({'a': 2.0, 'b': 1.5}, {'a': 'X', 'b': 'Y'})
    """
    get = scores.get
    for product, value, name in zip(products, values, names, strict=False):
        old = get(product)
        if old is None:
            scores[product] = factor * value
            sources[product] = name
        else:
            scores[product] = old + factor * value


class SessionVotes:
    """Lifted co-occurrence votes of one session; see the module documentation."""

    __slots__ = ("lift", "sources", "votes")

    def __init__(self) -> None:
        #: product -> vote, multiplied by ``lift``
        self.votes: dict[str, float] = {}
        #: ``decay ** -steps``: divide a vote by it for its actual value
        self.lift = 1.0
        #: product -> the kind that first named it (``BLENDED`` lists carry kinds)
        self.sources: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.votes)

    def add(self, product: str, table: dict[Any, Any] | None, at_ms: int, depth: int,
            decay: float, capacity: int) -> None:
        """Add the list of ``product`` valid at ``at_ms`` from ``table`` (the published
        lists of one kind), after the earlier votes decayed one step, and drop the votes
        for ``product`` itself. A ``BLENDED`` list votes with its published votes, any
        other with reciprocal ranks. Cost: ``O(depth)``, and ``O(capacity log capacity)``
        when more than ``2 * capacity`` votes are held (then ``capacity`` are kept)."""
        votes = self.votes
        # The product is in the session now: never recommended in it again, so it must not
        # take one of the kept places.
        if votes:
            votes.pop(product, None)
        lift = self.lift = self.lift / decay
        if lift > _MAX_LIFT:
            factor = 1.0 / lift
            votes = self.votes = {p: v * factor for p, v in votes.items()}
            lift = self.lift = 1.0
        if not table:
            return
        found = lookup(table, product, at_ms)
        if found is None:
            return
        items = found[0]
        if len(items) > depth:
            items = items[:depth]
        if len(found) > 2:  # a BLENDED list: (items, votes, sources)
            values, names = found[1], found[2]
            if not votes and len(values) == len(names) == len(found[0]):
                # The session's first list (or all earlier votes were its own products):
                # every product is new, so built at C speed, in list order, as add_votes
                # would (published lists name a product once; checked below).
                votes.update(zip(items, [lift * v for v in values], strict=False))
                if len(votes) == len(items):
                    self.sources.update(zip(items, names, strict=False))
                else:
                    votes.clear()
                    add_votes(votes, self.sources, items, values, lift, names)
            else:
                add_votes(votes, self.sources, items, values, lift, names)
        else:
            get = votes.get
            weights = RANK_WEIGHTS
            for rank, other in enumerate(items):
                votes[other] = get(other, 0.0) + lift * weights[rank]
        if len(votes) > 2 * capacity:
            best = sorted(votes, key=votes.__getitem__, reverse=True)[:capacity]
            self.votes = {p: votes[p] for p in best}
            if self.sources:
                self.sources = {p: self.sources[p] for p in best if p in self.sources}

    def actual(self) -> dict[str, float]:
        """The votes at their actual scale."""
        factor = 1.0 / self.lift
        return {p: v * factor for p, v in self.votes.items()}
