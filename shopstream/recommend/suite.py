"""Every strategy built from one configuration, as the operators and the evaluation use
them.

Examples
--------
>>> from shopstream.recommend.published import PublishedLists
>>> sorted(build_recommenders(RecommendConfig(), PublishedLists()))
['AFFINITY', 'BASKET_BASED', 'CO_OCCURRENCE', 'CROSS_SELL', 'NEXT_ITEM', 'PERSONAL', \
'POPULAR', 'SESSION_PAIRS', 'TRENDING', 'VIEW_BASED']
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shopstream.errors import require_positive
from shopstream.mining import RulesConfig
from shopstream.recommend.base import (
    AFFINITY,
    ANCHORED_KINDS,
    CO_OCCURRENCE,
    SESSION_PAIRS,
    VIEW_BASED,
    Recommender,
)
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.history import HistoryConfig
from shopstream.recommend.pairs import PairsConfig
from shopstream.recommend.published import PublishedConfig, PublishedLists
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.session_pairs import WINDOW as SESSION_WINDOW
from shopstream.recommend.strategies import ServeConfig, list_strategies
from shopstream.recommend.trending import TrendingConfig

__all__ = ["RecommendConfig", "build_recommenders"]


@dataclass(frozen=True)
class RecommendConfig:
    """Settings of the recommender: learning, publishing, serving and the blend.

    Parameters
    ----------
    blend
        Weights, fallback chain and variant name.
    trending
        Windows of the trending tracker (and of the ``trending-products`` stream).
    pairs
        Caps of the pair learners (session window, basket pairs, sessions remembered).
        When the blend weighs ``SESSION_PAIRS`` and ``pairs.session_window`` is 0, the
        window is set to :data:`~shopstream.recommend.session_pairs.WINDOW` (a blend
        cannot read a kind nobody learns).
    counts
        Caps of the per-product lists (products counted, list length, decay).
    published
        Versions and anchors kept by each recommender.
    serve
        Caps of one request (list depth, session products, profile).
    history
        Caps and decay of each shopper's own history (PERSONAL).
    offline_rules
        Thresholds of the rules mined from training baskets in offline evaluation (the
        pipeline uses the rule operator's rules instead).
    publish_every_ms
        Event time between two publications of the learned lists (default 5 minutes:
        lists are as fresh as that, and a busy catalog is published at most that often).
    key_groups
        Partitions of the learning stage (the parallelism it can spread over).
    k
        Products per recommendation.
    """

    blend: BlendConfig = field(default_factory=BlendConfig)
    trending: TrendingConfig = field(default_factory=TrendingConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    counts: CountsConfig = field(default_factory=CountsConfig)
    published: PublishedConfig = field(default_factory=PublishedConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    offline_rules: RulesConfig = field(default_factory=lambda: RulesConfig(
        min_support=0.001, min_confidence=0.1, max_len=3))
    publish_every_ms: int = 300_000
    key_groups: int = 8
    k: int = 10

    def for_list_length(self, k: int) -> RecommendConfig:
        """This configuration for lists of ``k`` products: published lists and the
        entries each request reads per list are ``2 * k`` long, and a session keeps
        ``3 * k`` votes (the defaults are this for ``k`` = 10).

        Examples
        --------
        >>> cfg = RecommendConfig().for_list_length(20)
        >>> cfg.k, cfg.counts.top_n, cfg.serve.depth, cfg.serve.votes
        (20, 40, 40, 60)
        """
        return replace(self, k=k, counts=replace(self.counts, top_n=2 * k),
                       serve=replace(self.serve, depth=2 * k, votes=3 * k))

    def __post_init__(self) -> None:
        require_positive(self, "publish_every_ms", "key_groups", "k")
        if not self.pairs.session_window and SESSION_PAIRS in self.blend.strategies():
            object.__setattr__(self, "pairs",
                               replace(self.pairs, session_window=SESSION_WINDOW))

    def unread_kinds(self) -> frozenset[str]:
        """The kinds of ``recommendation-models`` lists no serving strategy of this blend
        reads: the anchored kinds (next items, co-occurrence, bought together), whose
        votes reach a request through each session product's ``BLENDED`` list, except
        ``CO_OCCURRENCE`` while AFFINITY is in the blend (it reads the co-occurrence
        lists of the shopper's past products) and an anchored kind in the fallback chain
        (it reads its own lists). The ``rec-models`` stage does not publish them, and the
        recommendation operator drops them on arrival (a retrain publishes every kind).

        Examples
        --------
        >>> sorted(RecommendConfig().unread_kinds())
        ['CO_OCCURRENCE', 'CROSS_SELL', 'NEXT_ITEM', 'SESSION_PAIRS']
        >>> sorted(RecommendConfig(blend=BlendConfig(weights=(("AFFINITY", 1.0),)))
        ...        .unread_kinds())
        ['CROSS_SELL', 'NEXT_ITEM', 'SESSION_PAIRS']
        """
        read = set(self.blend.fallback)
        if AFFINITY in self.blend.strategies():
            read.add(CO_OCCURRENCE)
        return frozenset(ANCHORED_KINDS) - read


def build_recommenders(config: RecommendConfig, lists: PublishedLists
                       ) -> dict[str, Recommender]:
    """Every strategy, by name: those serving from ``lists`` and, for offline
    evaluation only, the session k-NN baseline (``VIEW_BASED``, which needs the whole
    session index and so is not part of the pipeline). The neighbours' recency halves
    their votes every ``counts.half_life_ms`` (never when 0): session k-NN remembers as
    long as the lists do, so that one memory, chosen on validation, serves both."""
    out = list_strategies(lists, config.serve)
    out[VIEW_BASED] = SessionKnn(neighbour_half_life_ms=config.counts.half_life_ms)
    return out
