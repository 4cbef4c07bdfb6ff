"""What every recommender learns from, what it is asked, and what it answers.

A recommender learns from two kinds of input:

- :class:`Step` - one shopper action on a product (a view, an add to cart, a purchase
  line), given to :meth:`Recommender.learn_one` as it happens;
- :class:`Basket` - the products of a completed basket, given to
  :meth:`Recommender.learn_basket` when it ends.

It answers :meth:`Recommender.rank` with up to ``k`` :class:`Scored` products for a
:class:`RecContext` (the session so far), best first, never a product already in the
basket and never the same product twice; a higher score is better, and scores of one
strategy are comparable with each other only.

Examples
--------
>>> ctx = RecContext("s1", "u1", items=("p1", "p2"), basket=frozenset({"p2"}), now_ms=0)
>>> ctx.last_item, ctx.excludes("p2"), ctx.excludes("p9")
('p2', True, False)
>>> top_k({"a": 1.0, "b": 3.0, "c": 3.0, "p2": 9.0}, 2, ctx)
[Scored(product_id='b', score=3.0), Scored(product_id='c', score=3.0)]
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

__all__ = ["BASKET_BASED", "CROSS_SELL", "PERSONAL", "POPULAR", "TRENDING", "VIEW_BASED",
           "Basket", "RecContext", "Recommender", "Scored", "Step", "first_allowed", "top_k"]

#: Strategy names, as ``recommendationType`` and report keys carry them.
BASKET_BASED = "BASKET_BASED"
VIEW_BASED = "VIEW_BASED"
CROSS_SELL = "CROSS_SELL"
PERSONAL = "PERSONAL"
TRENDING = "TRENDING"
POPULAR = "POPULAR"


class Step(NamedTuple):
    """One shopper action on one product, as recommenders learn it.

    ``kind`` is the event type (``VIEW_PRODUCT``, ``ADD_TO_CART``, ``PURCHASE``...).
    """

    session_id: str
    user_id: str
    product_id: str
    kind: str
    timestamp_ms: int


class Basket(NamedTuple):
    """The distinct products of one completed basket."""

    session_id: str
    user_id: str
    items: tuple[str, ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class RecContext:
    """The session a recommendation is for.

    Parameters
    ----------
    session_id, user_id
        Whose session it is (``user_id`` may equal the session for anonymous shoppers).
    items
        Products the session touched so far (viewed or added), oldest first, no repeats.
    basket
        Products in the cart now: never recommended.
    now_ms
        Event time of the request.
    """

    session_id: str
    user_id: str
    items: tuple[str, ...]
    basket: frozenset[str]
    now_ms: int

    @property
    def last_item(self) -> str | None:
        """The product touched last, if any."""
        return self.items[-1] if self.items else None

    def excludes(self, product_id: str) -> bool:
        """Whether ``product_id`` must not be recommended (it is in the basket)."""
        return product_id in self.basket


class Scored(NamedTuple):
    """One recommended product and its strategy's score."""

    product_id: str
    score: float


class Recommender:
    """Base of every strategy: learning is a no-op unless a strategy needs it."""

    #: The strategy's name (``recommendationType``).
    name: ClassVar[str] = ""

    def learn_one(self, step: Step) -> None:
        """Learn from one shopper action."""

    def learn_basket(self, basket: Basket) -> None:
        """Learn from one completed basket."""

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        """Up to ``k`` products for ``context``, best first."""
        raise NotImplementedError


def first_allowed(ranked: Iterable[tuple[str, float]], k: int,
                  context: RecContext) -> list[Scored]:
    """The first ``k`` of an already ranked ``(product, score)`` list that ``context``
    allows.

    Examples
    --------
    >>> ctx = RecContext("s", "u", (), frozenset({"b"}), 0)
    >>> first_allowed([("a", 3.0), ("b", 2.0), ("c", 1.0)], 2, ctx)
    [Scored(product_id='a', score=3.0), Scored(product_id='c', score=1.0)]
    """
    out: list[Scored] = []
    if k <= 0:
        return out
    for product, score in ranked:
        if not context.excludes(product):
            out.append(Scored(product, score))
            if len(out) >= k:
                break
    return out


def top_k(scores: Mapping[str, float], k: int, context: RecContext) -> list[Scored]:
    """The ``k`` best of ``scores`` that ``context`` allows; ties go to the smaller id,
    so results are deterministic."""
    if k <= 0 or not scores:
        return []
    basket = context.basket
    if len(scores) > 4 * (k + len(basket)):
        # Shortlist by score alone (C-level), then order the few exactly; a tie on the
        # shortlist's boundary is broken by the smaller id too.
        floor = heapq.nlargest(k + len(basket), scores.values())[-1]
        pool = [(-score, product) for product, score in scores.items()
                if score >= floor and score > 0 and product not in basket]
    else:
        pool = [(-score, product) for product, score in scores.items()
                if score > 0 and product not in basket]
    pool.sort()
    return [Scored(product, -negative) for negative, product in pool[:k]]
