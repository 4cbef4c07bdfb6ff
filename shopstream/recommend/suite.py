"""Every strategy built from one configuration, as the operator and the evaluation use them.

Examples
--------
>>> sorted(build_recommenders(RecommendConfig()))
['BASKET_BASED', 'CROSS_SELL', 'PERSONAL', 'POPULAR', 'TRENDING', 'VIEW_BASED']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopstream.errors import ConfigError
from shopstream.mining import RulesConfig
from shopstream.recommend.base import (
    BASKET_BASED,
    CROSS_SELL,
    PERSONAL,
    POPULAR,
    TRENDING,
    VIEW_BASED,
    Recommender,
)
from shopstream.recommend.basket_rules import BasketRules
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.cross_sell import CrossSell
from shopstream.recommend.personal import Personal
from shopstream.recommend.popularity import Popularity
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.trending import Trending, TrendingConfig

__all__ = ["RecommendConfig", "build_recommenders"]


@dataclass(frozen=True)
class RecommendConfig:
    """Settings of the recommenders and the blend.

    Parameters
    ----------
    blend
        Weights, fallback chain and variant name.
    trending
        Windows of the trending tracker (and of the ``trending-products`` stream).
    offline_rules
        Thresholds of the rule miner that :class:`BasketRules` runs itself offline (the
        pipeline uses the rule operator's rules instead).
    k
        Products per recommendation.
    neighbours, sample_size, max_sessions
        Session k-NN settings (see :class:`SessionKnn`).
    """

    blend: BlendConfig = field(default_factory=BlendConfig)
    trending: TrendingConfig = field(default_factory=TrendingConfig)
    offline_rules: RulesConfig = field(default_factory=lambda: RulesConfig(
        min_support=0.001, min_confidence=0.1, max_len=3))
    k: int = 10
    neighbours: int = 50
    sample_size: int = 100
    max_sessions: int = 20_000

    def __post_init__(self) -> None:
        for name in ("k", "neighbours", "sample_size", "max_sessions"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"RecommendConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)


def build_recommenders(config: RecommendConfig) -> dict[str, Recommender]:
    """One fresh instance of every strategy, by strategy name."""
    return {
        POPULAR: Popularity(),
        BASKET_BASED: BasketRules(config.offline_rules),
        VIEW_BASED: SessionKnn(neighbours=config.neighbours, sample_size=config.sample_size,
                               max_sessions=config.max_sessions),
        CROSS_SELL: CrossSell(),
        PERSONAL: Personal(),
        TRENDING: Trending(config.trending),
    }
