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
    best_part: dict[str, float] = {}
    best_kind: dict[str, str] = {}
    get = votes.get
    for kind, entry in lists.items():
        weight = weights.get(kind, 0.0)
        if weight <= 0:
            continue
        # not strict: the first len(RANK_WEIGHTS) products vote, the rest not
        for product, part in zip(entry[0], _parts(weight), strict=False):
            old = get(product)
            if old is None:  # part > 0: the same as 0.0 + part, and the best so far
                votes[product] = part
                best_part[product] = part
                best_kind[product] = kind
            else:
                votes[product] = old + part
                if part > best_part[product]:
                    best_part[product] = part
                    best_kind[product] = kind
    ranked = sorted(sorted(votes), key=votes.__getitem__, reverse=True)[:top_n]
    return (tuple(ranked), tuple([votes[p] for p in ranked]),
            tuple([best_kind[p] for p in ranked]))


#: weight -> its vote at each rank (``weight * RANK_WEIGHTS[rank]``); a few weights per
#: configured blend, so it stays small
_PARTS: dict[float, tuple[float, ...]] = {}


def _parts(weight: float) -> tuple[float, ...]:
    parts = _PARTS.get(weight)
    if parts is None:
        if len(_PARTS) > 1_000:  # a bound, should weights ever vary per call
            _PARTS.clear()
        parts = _PARTS[weight] = tuple([weight * r for r in RANK_WEIGHTS])
    return parts
