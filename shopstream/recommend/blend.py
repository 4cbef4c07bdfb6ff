"""The blender: strategies mixed by weights, with a cold-start fallback chain.

Every strategy with a positive weight votes into one score table by reciprocal rank
(:meth:`~shopstream.recommend.base.Recommender.contribute`: ``weight * share / (c +
rank)`` for each list it reads), so raw scores of different scales never meet. When the
request carries the session's ``BLENDED`` votes (each session product's next items,
co-occurring and bought-together products fused with these weights when they were
published, kept as the session went), those stand for the three anchored strategies and
only the others are asked: the same sum, computed once per session product instead of
once per request. The
``k`` best products the context allows come out; each product's source is the first
strategy, in the order of the weights, that named it. When fewer than ``k`` come out (a
cold start: no lists published yet), the fallback chain fills the rest in order (by
default trending, then popular), below every blended product: each scores 0.99 times
the one before it (starting from the lowest blended score, or 1.0).

Weights, the fallback chain and the variant name are configuration, so an A/B test is two
:class:`BlendConfig` values; ``shopstream evaluate`` learns weights on a validation split
(:mod:`shopstream.evaluation.tuning`).

Cost of one request: the strategies' votes, each bounded by its caps (with the session's
``BLENDED`` votes: a copy of at most ``2 * ServeConfig.votes`` kept votes, PERSONAL's at
most ``min(history, depth)`` and BASKET_BASED's at most ``rule_items * (rule_items + 1) /
2`` rule lists of ``depth``), one C-level sort of that table once the excluded products
left it, and ``O(k)`` for the fallback chain: bounded by the caps, whatever the
shopper's history or the density of the data.

Examples
--------
>>> from shopstream.events.recommendations import ModelList
>>> from shopstream.recommend.published import PublishedLists
>>> from shopstream.recommend.strategies import list_strategies
>>> lists = PublishedLists()
>>> lists.apply(ModelList("POPULAR", "", 0, ("a", "b"), (2.0, 1.0)))
>>> blender = Blender(list_strategies(lists), BlendConfig(weights=(), fallback=("POPULAR",)))
>>> ctx = RecContext("s", "u", (), frozenset(), 1)
>>> [(p.product_id, p.source) for p in blender.rank(ctx, 2)]
[('a', 'POPULAR'), ('b', 'POPULAR')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import filterfalse, islice
from typing import NamedTuple

from shopstream.errors import ConfigError
from shopstream.recommend.base import (
    ANCHORED_KINDS,
    BASKET_BASED,
    BLENDED,
    CO_OCCURRENCE,
    CROSS_SELL,
    NEXT_ITEM,
    PERSONAL,
    POPULAR,
    RANK_WEIGHTS,
    TRENDING,
    RecContext,
    Recommender,
)
from shopstream.recommend.strategies import Affinity, Personal

__all__ = ["DEFAULT_WEIGHTS", "BlendConfig", "Blended", "Blender", "Ranking"]

#: Strategies whose votes come from ``RecContext.history`` alone (none without one).
_FROM_HISTORY = (Personal, Affinity)
_NO_SOURCES: Mapping[str, str] = {}
_NOTHING: frozenset[str] = frozenset()

#: Default weights, learned by ``shopstream evaluate --tune`` on validation splits of the
#: training sessions of real data (see the README's recommendation section).
DEFAULT_WEIGHTS: tuple[tuple[str, float], ...] = (
    (CO_OCCURRENCE, 1.0), (NEXT_ITEM, 0.5), (PERSONAL, 0.5), (CROSS_SELL, 0.5),
    (BASKET_BASED, 0.25))


class Ranking(NamedTuple):
    """A blended list as parallel lists: products best first, their scores and the
    strategy behind each; the products from ``fallback_from`` on only filled a short
    list (the fallback chain)."""

    products: list[str]
    scores: list[float]
    sources: list[str]
    fallback_from: int


class Blended(NamedTuple):
    """One blended recommendation: product, blended score, the strategy behind it, and
    whether it only filled a short list (the fallback chain)."""

    product_id: str
    score: float
    source: str
    fallback: bool = False


@dataclass(frozen=True)
class BlendConfig:
    """How strategies are mixed.

    Parameters
    ----------
    weights
        ``(strategy, weight)`` pairs; strategies left out or at 0 are not asked.
    fallback
        Strategies that fill up a short list, in order.
    variant
        Name of this configuration, carried in every recommendation's context.
    """

    weights: tuple[tuple[str, float], ...] = DEFAULT_WEIGHTS
    fallback: tuple[str, ...] = (TRENDING, POPULAR)
    variant: str = "default"

    def __post_init__(self) -> None:
        for strategy, weight in self.weights:
            if weight < 0:
                msg = f"BlendConfig weight of {strategy!r} must be >= 0, got {weight!r}"
                raise ConfigError(msg)

    def strategies(self) -> set[str]:
        """Every strategy the configuration needs."""
        return {s for s, w in self.weights if w > 0} | set(self.fallback)

    def active(self) -> tuple[tuple[str, float], ...]:
        """The positive weights, strongest first (ties by name)."""
        return tuple(sorted(((s, w) for s, w in self.weights if w > 0),
                            key=lambda e: (-e[1], e[0])))


class Blender:
    """Asks the configured strategies and fuses their answers."""

    def __init__(self, recommenders: Mapping[str, Recommender],
                 config: BlendConfig | None = None) -> None:
        self.config = config or BlendConfig()
        missing = sorted(self.config.strategies() - set(recommenders))
        if missing:
            msg = (f"BlendConfig names strategies {missing} that are not given; have "
                   f"{sorted(recommenders)}")
            raise ConfigError(msg)
        self.recommenders = dict(recommenders)
        self._voters = [(self.recommenders[s], w) for s, w in self.config.active()]
        # With a session's BLENDED votes (the anchored kinds fused by these weights at
        # publication), the anchored strategies are already in them.
        self._others = [(r, w) for r, w in self._voters if r.name not in ANCHORED_KINDS]
        # Strategies that vote only from the shopper's history (the exact classes: a
        # subclass may read more) add nothing to a request without one, so it skips them.
        self._voters_no_history = [(r, w) for r, w in self._voters
                                   if type(r) not in _FROM_HISTORY]
        self._others_no_history = [(r, w) for r, w in self._others
                                   if type(r) not in _FROM_HISTORY]
        self._fallback = [self.recommenders[s] for s in self.config.fallback]
        self._best_possible = sum(w for _, w in self._voters) * RANK_WEIGHTS[0]

    def rank(self, context: RecContext, k: int) -> list[Blended]:
        """Up to ``k`` products, best first; see the module documentation."""
        ranking = self.ranking(context, k)
        cut = ranking.fallback_from
        return [Blended(p, s, src, i >= cut) for i, (p, s, src) in enumerate(
            zip(ranking.products, ranking.scores, ranking.sources, strict=True))]

    def ranking(self, context: RecContext, k: int) -> Ranking:
        """:meth:`rank` as parallel lists, without an object per product: what the
        recommendation operator asks once per request."""
        if k <= 0:
            return Ranking([], [], [], 0)
        blended = context.votes.get(BLENDED)
        scale = 1.0
        sources: dict[str, str] = {}
        fused: Mapping[str, str] = _NO_SOURCES
        history = bool(context.history)
        if blended is not None:
            # The session's fused votes are kept lifted (see session_votes): the others
            # vote on that scale, and the result is scaled back.
            scale = blended.lift
            fused = blended.sources
            others = self._others if history else self._others_no_history
            owned = bool(others)
            if owned:
                scores = dict(blended.votes)
                for recommender, weight in others:
                    recommender.contribute(context, weight * scale, None, scores, sources)
            else:
                scores = blended.votes  # only read
        else:
            owned = True
            scores = {}
            for recommender, weight in (self._voters if history
                                        else self._voters_no_history):
                recommender.contribute(context, weight, None, scores, sources)
        exclude = context.exclude
        if owned and exclude:
            # Our own table: the excluded products leave it before the sort (fewer to
            # sort, none to skip after; dropping keys keeps the others' order, so ties
            # still break by it).
            for product in scores.keys() & exclude:
                del scores[product]
            exclude = _NOTHING
        ordered = sorted(scores, key=scores.__getitem__, reverse=True)
        # The first k allowed, at C speed and stopping there.
        products = (list(islice(filterfalse(exclude.__contains__, ordered), k)) if exclude
                    else ordered[:k])
        out_scores = [scores[p] / scale for p in products]
        out_sources = [fused.get(p) or sources.get(p, BLENDED) for p in products]
        blended_count = len(products)
        if blended_count < k:
            taken = set(products)
            floor = out_scores[-1] if out_scores else 1.0
            for recommender in self._fallback:
                name = recommender.name
                for product in recommender.fill(context, k + len(taken)):
                    if product in taken:
                        continue
                    taken.add(product)
                    floor *= 0.99  # below every blended product, in fallback order
                    products.append(product)
                    out_scores.append(floor)
                    out_sources.append(name)
                    if len(products) >= k:
                        return Ranking(products, out_scores, out_sources, blended_count)
        return Ranking(products, out_scores, out_sources, blended_count)

    def best_possible(self) -> float:
        """The score of a product every voting strategy ranks first in one list."""
        return self._best_possible
