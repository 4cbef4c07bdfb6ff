"""The strategies that serve from published lists: each merges a few short lists.

Every strategy here reads :class:`~shopstream.recommend.published.PublishedLists` at the
request's event time and votes by reciprocal rank (``weight * anchor_weight /
(RANK_OFFSET + rank)``) for the first ``depth`` products of each list it reads:

- ``NEXT_ITEM`` - what is viewed or added next after the session's products;
- ``CO_OCCURRENCE`` - what shares sessions with the session's products;
- ``CROSS_SELL`` - what was bought in the same baskets as the session's products;
- ``SESSION_PAIRS`` - what shares the whole session with the session's products, with a
  long memory (:mod:`shopstream.recommend.session_pairs`);

  (each older session product weighing ``decay`` times the next newer one; kept as the
  session goes, see :mod:`shopstream.recommend.session_votes`)
- ``BASKET_BASED`` - the rules of the cart's latest ``rule_items`` products and of their
  pairs (a two-product antecedent weighs twice), ordered by confidence;
- ``PERSONAL`` - the shopper's own strongest past products outside this session (buy
  again);
- ``AFFINITY`` - what shares sessions with the strongest few of those (item-based
  collaborative filtering on the shopper's long-term profile);
- ``TRENDING`` and ``POPULAR`` - the global lists.

With the session's votes kept as it goes, one request reads at most ``2 * votes`` kept
votes per anchored kind plus ``3 + profile`` lists of ``depth`` entries: its cost is
bounded by those caps, whatever the history or the density of the data.

Examples
--------
>>> from shopstream.events.recommendations import ModelList
>>> lists = PublishedLists()
>>> lists.apply(ModelList("NEXT_ITEM", "tea", 0, ("cake", "milk"), (5.0, 2.0)))
>>> ctx = RecContext("s", "u", ("tea",), frozenset(), now_ms=10)
>>> [s.product_id for s in NextItem(lists).rank(ctx, 5)]
['cake', 'milk']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import filterfalse, islice, repeat
from operator import itemgetter
from typing import Any

from shopstream.errors import ConfigError, require_positive
from shopstream.recommend.base import (
    AFFINITY,
    BASKET_BASED,
    CO_OCCURRENCE,
    CROSS_SELL,
    NEXT_ITEM,
    PERSONAL,
    POPULAR,
    RANK_WEIGHTS,
    SESSION_PAIRS,
    TRENDING,
    RecContext,
    Recommender,
    Scored,
    first_allowed,
    top_k,
)
from shopstream.recommend.published import PublishedLists, lookup, version_at
from shopstream.recommend.session_votes import add_votes

__all__ = ["Affinity", "AnchoredStrategy", "BasketRules", "BoughtTogether", "CoOccurrence",
           "ListStrategy", "NextItem", "Personal", "Popular", "ServeConfig", "SessionPairs",
           "Trending", "list_strategies"]

#: a rule's consequent, first of its ``(consequent, confidence, lift)``
_CONSEQUENT = itemgetter(0)
_at = version_at


@dataclass(frozen=True)
class ServeConfig:
    """Caps of one request.

    Parameters
    ----------
    depth
        Entries read per list (at most the publishers' ``top_n``).
    session_items
        Latest products of the session (or of the cart) whose lists are read.
    profile
        Past products of the shopper whose co-occurrence lists PERSONAL reads.
    history
        Past products of the shopper PERSONAL may recommend again.
    decay
        Weight of each older session product's lists against the next newer one's.
    votes
        Co-occurrence votes a session keeps (up to twice as many between prunes).
    session_cap
        Products of a session remembered: never recommended again in the session.
    rule_items
        Latest cart (or, with an empty cart, session) products whose rules are read,
        alone and in pairs.
    """

    depth: int = 20
    session_items: int = 10
    profile: int = 5
    history: int = 20
    decay: float = 0.8
    votes: int = 30
    session_cap: int = 50
    rule_items: int = 3

    def __post_init__(self) -> None:
        require_positive(self, "depth", "session_items", "profile", "history", "votes",
                         "session_cap", "rule_items")
        if not 0 < self.decay <= 1:
            msg = f"ServeConfig.decay must be in (0, 1], got {self.decay!r}"
            raise ConfigError(msg)
        if self.depth > len(RANK_WEIGHTS):
            msg = f"ServeConfig.depth must be <= {len(RANK_WEIGHTS)}, got {self.depth!r}"
            raise ConfigError(msg)


def _add_ranked(scores: dict[str, float], sources: dict[str, str] | None, name: str,
                w: float, products: Iterable[str]) -> None:
    """Add ``w`` times each rank's weight (:data:`RANK_WEIGHTS`) to the products' scores,
    best first; a product's first vote names ``name`` its source."""
    get = scores.get
    for weight, product in zip(RANK_WEIGHTS, products, strict=False):
        old = get(product)
        if old is None:
            scores[product] = w * weight
            if sources is not None:
                sources[product] = name
        else:
            scores[product] = old + w * weight


class ListStrategy(Recommender):
    """A strategy that votes from published lists (see the module documentation)."""

    def __init__(self, lists: PublishedLists, config: ServeConfig | None = None) -> None:
        self.lists = lists
        self.config = config or ServeConfig()

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        """The lists this strategy reads for ``context``, each with its weight."""
        raise NotImplementedError

    def contribute(self, context: RecContext, weight: float, depth: int | None,
                   scores: dict[str, float], sources: dict[str, str] | None = None) -> None:
        if depth is None:
            depth = self.config.depth
        for share, items in self.votes(context):
            _add_ranked(scores, sources, self.name, weight * share, items[:depth])

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        scores: dict[str, float] = {}
        self.contribute(context, 1.0, self.config.depth, scores)
        return top_k(scores, k, context)

    def _anchored(self, kind: str, anchors: tuple[str, ...], decay: float,
                  at_ms: int) -> list[tuple[float, tuple[str, ...]]]:
        table = self.lists.tables.get(kind)
        if not table:
            return []
        out = []
        share = 1.0
        for anchor in reversed(anchors):
            found = lookup(table, anchor, at_ms)
            if found is not None:
                out.append((share, found[0]))
            share *= decay
        return out


class AnchoredStrategy(ListStrategy):
    """A strategy voting with the lists of the session's products, each older product
    weighing ``decay`` times the next newer one.

    With the session's votes kept as it went (``context.votes[name]``, see
    :mod:`shopstream.recommend.session_votes`), a request reads them once, every product
    of the session counting; without, the latest ``session_items`` products' lists are
    read at the request's time."""

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        return self._anchored(self.name, context.items[-self.config.session_items:],
                              self.config.decay, context.now_ms)

    def contribute(self, context: RecContext, weight: float, depth: int | None,
                   scores: dict[str, float], sources: dict[str, str] | None = None) -> None:
        kept = context.votes.get(self.name)
        if kept is None:
            super().contribute(context, weight, depth, scores, sources)
            return
        factor = weight / kept.lift
        get = scores.get
        if sources is None:
            for product, vote in kept.votes.items():
                scores[product] = get(product, 0.0) + factor * vote
            return
        votes = kept.votes
        add_votes(scores, sources, votes.keys(), votes.values(), factor, repeat(self.name))


class NextItem(AnchoredStrategy):
    """``NEXT_ITEM``: what is viewed or added next after the session's products."""

    name = NEXT_ITEM


class CoOccurrence(AnchoredStrategy):
    """``CO_OCCURRENCE``: what shares sessions with the session's products."""

    name = CO_OCCURRENCE


class SessionPairs(AnchoredStrategy):
    """``SESSION_PAIRS``: what shares the whole session with the session's products,
    remembered for seasons (:mod:`shopstream.recommend.session_pairs`)."""

    name = SESSION_PAIRS


class BoughtTogether(AnchoredStrategy):
    """``CROSS_SELL``: what was bought in the same baskets as the session's products."""

    name = CROSS_SELL


class BasketRules(ListStrategy):
    """``BASKET_BASED``: rules whose antecedent is among the cart's latest products."""

    name = BASKET_BASED

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        return [(share, tuple(map(_CONSEQUENT, rules)))
                for share, rules in self._rules(context)]

    def contribute(self, context: RecContext, weight: float, depth: int | None,
                   scores: dict[str, float], sources: dict[str, str] | None = None) -> None:
        # ListStrategy.contribute reading each rule's consequent in place: no tuple of
        # consequents built per list and request.
        rule_lists = self._rules(context)
        if not rule_lists:
            return
        if depth is None:
            depth = self.config.depth
        for share, rules in rule_lists:
            _add_ranked(scores, sources, self.name, weight * share,
                        map(_CONSEQUENT, rules[:depth]))

    def _rules(self, context: RecContext) -> list[tuple[float, Any]]:
        """The rules read for ``context``, each list with its weight: the pairs' (2.0)
        and each product's (1.0), ``(consequent, confidence, lift)`` best first."""
        table = self.lists.tables.get(BASKET_BASED)
        if not table:
            return []
        n = self.config.rule_items
        basket = context.basket
        if basket:
            latest: list[str] = []
            for product in reversed(context.items):
                if product in basket:
                    latest.append(product)
                    if len(latest) == n:
                        break
            source = tuple(reversed(latest))
        else:
            source = context.items[-n:]
        now = context.now_ms
        out: list[tuple[float, Any]] = []
        get = table.get  # lookup() inlined: most antecedents asked have no rules
        for i, first in enumerate(source):
            for second in source[i + 1:]:
                versions = get((first, second) if first < second else (second, first))
                if versions:
                    rules = _at(versions, now)
                    if rules:
                        out.append((2.0, rules))
            versions = get((first,))
            if versions:
                rules = _at(versions, now)
                if rules:
                    out.append((1.0, rules))
        return out


def _past(context: RecContext) -> tuple[str, ...]:
    """The shopper's past products outside the current session and the cart, strongest
    first (the history as it is when the caller filtered it: ``history_outside``)."""
    history = context.history
    exclude = context.exclude
    if not exclude or context.history_outside:
        return history
    return tuple([p for p in history if p not in exclude])


class Personal(ListStrategy):
    """``PERSONAL``: the shopper's own past products again (buy again), strongest
    first; only those outside the current session."""

    name = PERSONAL

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        past = _past(context)
        return [(1.0, past[:self.config.history])] if past else []

    def contribute(self, context: RecContext, weight: float, depth: int | None,
                   scores: dict[str, float], sources: dict[str, str] | None = None) -> None:
        # ListStrategy.contribute over its one list, without the list of lists. Cost:
        # O(min(history, depth)).
        past = _past(context)
        if past:
            if depth is None:
                depth = self.config.depth
            _add_ranked(scores, sources, self.name, weight,
                        past[:min(depth, self.config.history)])


class Affinity(ListStrategy):
    """``AFFINITY``: what shares sessions with the shopper's strongest past products
    outside the current session (item-based collaborative filtering on the long-term
    profile), each older one weighing ``decay`` times the one before."""

    name = AFFINITY

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        past = _past(context)
        if not past:
            return []
        return self._anchored(CO_OCCURRENCE, past[:self.config.profile][::-1],
                              self.config.decay, context.now_ms)


class _Global(ListStrategy):
    kind = ""

    def votes(self, context: RecContext) -> list[tuple[float, tuple[str, ...]]]:
        found = self.lists.get(self.kind, "", context.now_ms)
        return [(1.0, found[0])] if found is not None else []

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        found = self.lists.get(self.kind, "", context.now_ms)
        if found is None:
            return []
        return first_allowed(zip(*found, strict=True), k, context)

    def fill(self, context: RecContext, k: int) -> list[str]:
        found = self.lists.get(self.kind, "", context.now_ms)
        if found is None or k <= 0:
            return []
        # The first k allowed, at C speed and stopping there: O(k + excluded), not the
        # whole list.
        return list(islice(filterfalse(context.exclude.__contains__, found[0]), k))


class Trending(_Global):
    """``TRENDING``: the latest trending list."""

    name = TRENDING
    kind = TRENDING


class Popular(_Global):
    """``POPULAR``: the most acted-on products (decayed over weeks)."""

    name = POPULAR
    kind = POPULAR


def list_strategies(lists: PublishedLists, config: ServeConfig | None = None
                    ) -> dict[str, Recommender]:
    """Every list strategy over one set of published lists, by name.

    Examples
    --------
    >>> sorted(list_strategies(PublishedLists()))
    ['AFFINITY', 'BASKET_BASED', 'CO_OCCURRENCE', 'CROSS_SELL', 'NEXT_ITEM', 'PERSONAL', \
'POPULAR', 'SESSION_PAIRS', 'TRENDING']
    """
    cfg = config or ServeConfig()
    classes: tuple[type[ListStrategy], ...] = (NextItem, CoOccurrence, BoughtTogether,
                                               BasketRules, Personal, Affinity, Trending,
                                               Popular, SessionPairs)
    return {cls.name: cls(lists, cfg) for cls in classes}
