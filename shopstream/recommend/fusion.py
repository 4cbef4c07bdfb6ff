"""Fusing one product's lists into the list the blend reads for it.

A session product's next items, co-occurring products and bought-together products are
three lists; the blend weighs each and sums reciprocal-rank votes. Doing that once per
published update instead of once per request (``BLENDED`` lists, published beside the
per-kind ones) leaves a request one list to read per session product. The vote of a
product is ``sum(weight[kind] / (RANK_OFFSET + rank))`` over the lists naming it, exactly
what the blend would add for that product; its source is the kind that gave most.

Examples
--------
>>> items, votes, sources = fuse(
...     {"NEXT_ITEM": (("b", "c"), (9.0, 1.0)), "CO_OCCURRENCE": (("c",), (4.0,))},
...     {"NEXT_ITEM": 1.0, "CO_OCCURRENCE": 2.0}, top_n=5)
>>> items, [round(v, 4) for v in votes], sources
(('c', 'b'), [0.2652, 0.0909], ('CO_OCCURRENCE', 'NEXT_ITEM'))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopstream.recommend.base import RANK_WEIGHTS

__all__ = ["fuse"]


def fuse(lists: Mapping[str, tuple[Any, ...]], weights: Mapping[str, float], top_n: int
         ) -> tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...]]:
    """The ``top_n`` products of ``lists`` by weighted reciprocal-rank vote, their votes
    and sources (see the module documentation); ``lists`` maps a kind to ``(items, ...)``
    (kinds without a weight are ignored). Cost: ``O(sum of list lengths)``."""
    votes: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    get = votes.get
    for kind, entry in lists.items():
        weight = weights.get(kind, 0.0)
        if weight <= 0:
            continue
        items = entry[0]
        for rank, product in enumerate(items[:len(RANK_WEIGHTS)]):
            part = weight * RANK_WEIGHTS[rank]
            old = get(product)
            if old is None:  # part > 0: the same as 0.0 + part, and the best so far
                votes[product] = part
                best[product] = (part, kind)
            else:
                votes[product] = old + part
                if part > best[product][0]:
                    best[product] = (part, kind)
    ranked = sorted(sorted(votes), key=votes.__getitem__, reverse=True)[:top_n]
    return (tuple(ranked), tuple([votes[p] for p in ranked]),
            tuple([best[p][1] for p in ranked]))
