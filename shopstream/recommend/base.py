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

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "AFFINITY",
    "ANCHORED_KINDS",
    "BASKET_BASED",
    "BLENDED",
    "CO_OCCURRENCE",
    "CROSS_SELL",
    "NEXT_ITEM",
    "PERSONAL",
    "POPULAR",
    "RANK_OFFSET",
    "RANK_WEIGHTS",
    "SESSION_PAIRS",
    "TRENDING",
    "VIEW_BASED",
    "Basket",
    "RecContext",
    "Recommender",
    "Scored",
    "Step",
    "first_allowed",
    "top_k",
]

#: Strategy names, as ``recommendationType`` and report keys carry them.
BASKET_BASED = "BASKET_BASED"
VIEW_BASED = "VIEW_BASED"
CROSS_SELL = "CROSS_SELL"
PERSONAL = "PERSONAL"
TRENDING = "TRENDING"
POPULAR = "POPULAR"
#: What is viewed or added next after a product (sequential transitions).
NEXT_ITEM = "NEXT_ITEM"
#: What shares sessions with the session's products (same-session co-occurrence).
CO_OCCURRENCE = "CO_OCCURRENCE"
#: What shares sessions with the shopper's long-term past products (item-based CF).
AFFINITY = "AFFINITY"
#: Per product: its next items, co-occurring and bought-together products fused by the
#: blend's weights (what the blend reads per session product).
BLENDED = "BLENDED"
#: What shares the whole session with a product (its latest 20 distinct products, both
#: directions, ``1 / distance``), with a long memory: see
#: :mod:`shopstream.recommend.session_pairs`.
SESSION_PAIRS = "SESSION_PAIRS"
#: The kinds whose lists are anchored on a session's products.
ANCHORED_KINDS = (NEXT_ITEM, CO_OCCURRENCE, CROSS_SELL, SESSION_PAIRS)


#: The ``c`` of reciprocal-rank fusion: a product at rank ``r`` (from 1) of a list votes
#: ``1 / (RANK_OFFSET + r)``.
RANK_OFFSET = 10.0
#: ``RANK_WEIGHTS[i]`` is the vote of rank ``i + 1``.
RANK_WEIGHTS: tuple[float, ...] = tuple(1.0 / (RANK_OFFSET + r) for r in range(1, 1025))


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


_NO_VOTES: Mapping[str, Any] = {}


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
    history
        The shopper's strongest past products, strongest first (what PERSONAL
        recommends from; empty for a new shopper).
    votes
        The session's votes kept as it went, per anchored kind (``NEXT_ITEM``,
        ``CO_OCCURRENCE``, ``CROSS_SELL``, and ``BLENDED`` for the blend):
        :class:`~shopstream.recommend.session_votes.SessionVotes`; empty to compute them
        from the published lists.
    exclude
        ``basket.union(items)`` when the caller has it already (the recommendation
        operator builds it first to filter the history); computed when ``None``.
    history_outside
        Whether ``history`` already leaves out every product of ``exclude`` (the
        recommendation operator filters it while building the context): PERSONAL and
        AFFINITY then read it as it is instead of filtering it again.

    A plain slotted class rather than a frozen dataclass: one is built per
    recommendation, and a frozen dataclass costs several microseconds more to build.
    Treat it as read-only.
    """

    __slots__ = ("basket", "exclude", "history", "history_outside", "items", "now_ms",
                 "session_id", "user_id", "votes")

    def __init__(self, session_id: str, user_id: str, items: tuple[str, ...],
                 basket: frozenset[str], now_ms: int, history: tuple[str, ...] = (),
                 votes: Mapping[str, Any] = _NO_VOTES,
                 exclude: frozenset[str] | None = None,
                 history_outside: bool = False) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.items = items
        self.basket = basket
        self.now_ms = now_ms
        self.history = history
        self.votes = votes
        self.history_outside = history_outside
        #: Products never recommended: the basket and the session's products.
        self.exclude: frozenset[str] = (basket.union(items) if exclude is None
                                        else exclude)

    def __repr__(self) -> str:
        return (f"RecContext({self.session_id!r}, {self.user_id!r}, {self.items!r}, "
                f"{self.basket!r}, {self.now_ms!r})")

    @property
    def last_item(self) -> str | None:
        """The product touched last, if any."""
        return self.items[-1] if self.items else None

    def excludes(self, product_id: str) -> bool:
        """Whether ``product_id`` must not be recommended: it is in the basket, or the
        session already touched it."""
        return product_id in self.exclude


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

    def fill(self, context: RecContext, k: int) -> list[str]:
        """Up to ``k`` products to fill a short blended list, best first (the products
        of :meth:`rank`; list strategies answer without scoring)."""
        return [scored.product_id for scored in self.rank(context, k)]

    def contribute(self, context: RecContext, weight: float, depth: int | None,
                   scores: dict[str, float], sources: dict[str, str] | None = None) -> None:
        """Add this strategy's votes to ``scores``: ``weight / (RANK_OFFSET + rank)`` for
        each of its best ``depth`` products (``None``: the strategy's own depth, 20 by
        default; reciprocal-rank fusion; strategies whose
        answer is a fusion of lists override this to vote list by list). A product new to
        ``scores`` gets this strategy's name in ``sources``."""
        for rank, scored in enumerate(self.rank(context, depth or 20)):
            product = scored.product_id
            old = scores.get(product)
            if old is None:
                scores[product] = weight * RANK_WEIGHTS[rank]
                if sources is not None:
                    sources[product] = self.name
            else:
                scores[product] = old + weight * RANK_WEIGHTS[rank]


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
    """The ``k`` best of ``scores`` that ``context`` allows, best first; equal scores keep
    the order in which the products entered ``scores`` (deterministic for the same
    votes). Cost: one C-level sort of ``scores``.

    Examples
    --------
    >>> ctx = RecContext("s", "u", ("a",), frozenset(), 0)
    >>> top_k({"a": 9.0, "b": 1.0, "c": 3.0, "d": 3.0}, 2, ctx)
    [Scored(product_id='c', score=3.0), Scored(product_id='d', score=3.0)]
    """
    if k <= 0 or not scores:
        return []
    exclude = context.exclude
    out: list[Scored] = []
    for product in sorted(scores, key=scores.__getitem__, reverse=True):
        if product in exclude:
            continue
        score = scores[product]
        if score <= 0:
            break
        out.append(Scored(product, score))
        if len(out) >= k:
            break
    return out
