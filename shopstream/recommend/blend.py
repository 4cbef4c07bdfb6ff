"""The blender: strategies mixed by configured weights, with a cold-start fallback chain.

Each strategy with a positive weight ranks ``pool`` candidates; a candidate's blended score
is the sum over strategies of ``weight / (rank_offset + rank)`` (reciprocal-rank fusion:
strategies' raw scores live on different scales, their ranks do not). The strategy that
contributed most to a product is its source. When fewer than ``k`` products come out (a
cold start: no rules, no neighbours, no history yet), the fallback chain fills the rest in
order (by default trending, then popular), below every blended product: each scores
0.99 times the one before it (starting from the lowest blended score, or 1.0).

Weights, the fallback chain and the variant name are configuration, so an A/B test is two
:class:`BlendConfig` values.

Examples
--------
>>> from shopstream.recommend.popularity import Popularity
>>> pop = Popularity()
>>> for p in "aab":
...     pop.learn_one(Step("s", "u", p, "ADD_TO_CART", 0))
>>> blender = Blender({"POPULAR": pop}, BlendConfig(weights=(), fallback=("POPULAR",)))
>>> ctx = RecContext("s", "u", (), frozenset(), 1)
>>> [(p.product_id, p.source) for p in blender.rank(ctx, 2)]
[('a', 'POPULAR'), ('b', 'POPULAR')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from shopstream.errors import ConfigError
from shopstream.recommend.base import (
    BASKET_BASED,
    CROSS_SELL,
    PERSONAL,
    POPULAR,
    TRENDING,
    VIEW_BASED,
    Basket,
    RecContext,
    Recommender,
    Step,
)

__all__ = ["DEFAULT_WEIGHTS", "BlendConfig", "Blended", "Blender"]

#: Default weights: a grid search on a validation split (the last 12.5% of the training
#: sessions of the Instacart sample, never the test sessions) picked PERSONAL 1,
#: CROSS_SELL 0.25, VIEW_BASED 0.1 and 0 for the rest; BASKET_BASED keeps a small weight
#: so live rules still break ties. TRENDING is left to the fallback chain.
DEFAULT_WEIGHTS: tuple[tuple[str, float], ...] = (
    (PERSONAL, 1.0), (CROSS_SELL, 0.25), (VIEW_BASED, 0.1), (BASKET_BASED, 0.05))


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
    pool
        Candidates asked from each strategy, as a multiple of ``k``.
    rank_offset
        The ``c`` of reciprocal-rank fusion (``1 / (c + rank)``, rank from 1).
    """

    weights: tuple[tuple[str, float], ...] = DEFAULT_WEIGHTS
    fallback: tuple[str, ...] = (TRENDING, POPULAR)
    variant: str = "default"
    pool: int = 2
    rank_offset: float = 10.0

    def __post_init__(self) -> None:
        for strategy, weight in self.weights:
            if weight < 0:
                msg = f"BlendConfig weight of {strategy!r} must be >= 0, got {weight!r}"
                raise ConfigError(msg)
        if self.pool < 1:
            msg = f"BlendConfig.pool must be >= 1, got {self.pool!r}"
            raise ConfigError(msg)
        if self.rank_offset < 0:
            msg = f"BlendConfig.rank_offset must be >= 0, got {self.rank_offset!r}"
            raise ConfigError(msg)

    def strategies(self) -> set[str]:
        """Every strategy the configuration needs."""
        return {s for s, w in self.weights if w > 0} | set(self.fallback)


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

    def learn_one(self, step: Step) -> None:
        """Every strategy learns the action."""
        for recommender in self.recommenders.values():
            recommender.learn_one(step)

    def learn_basket(self, basket: Basket) -> None:
        """Every strategy learns the completed basket."""
        for recommender in self.recommenders.values():
            recommender.learn_basket(basket)

    def rank(self, context: RecContext, k: int) -> list[Blended]:
        """Up to ``k`` products, best first; see the module documentation."""
        cfg = self.config
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        for strategy, weight in cfg.weights:
            if weight <= 0:
                continue
            for rank, scored in enumerate(self.recommenders[strategy].rank(
                    context, k * cfg.pool), start=1):
                part = weight / (cfg.rank_offset + rank)
                product = scored.product_id
                scores[product] = scores.get(product, 0.0) + part
                if part > best.get(product, (0.0, ""))[0]:
                    best[product] = (part, strategy)
        ordered = sorted(scores, key=lambda p: (-scores[p], p))[:k]
        out = [Blended(p, scores[p], best[p][1]) for p in ordered]
        if len(out) < k:
            taken = set(ordered)
            floor = min((b.score for b in out), default=1.0)
            for strategy in cfg.fallback:
                for scored in self.recommenders[strategy].rank(context, k + len(taken)):
                    if scored.product_id in taken:
                        continue
                    taken.add(scored.product_id)
                    floor *= 0.99  # below every blended product, in fallback order
                    out.append(Blended(scored.product_id, floor, strategy, fallback=True))
                    if len(out) >= k:
                        return out
        return out
