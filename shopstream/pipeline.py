"""The default topology: which operators run, keyed how, and which streams are written.

Examples
--------
>>> default_topology().stage_names()
('baskets', 'abandonment', 'fraud', 'revenue-partials', 'top-products-partials', 'revenue', \
'top-products', 'rules', 'trending', 'rec-learning', 'rec-models', 'recommendations')
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopstream.errors import require_positive
from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import BasketCompletion
from shopstream.operators.abandonment import AbandonmentConfig, CartAbandonmentDetector
from shopstream.operators.baskets import BasketConfig, BasketTracker
from shopstream.operators.context_features import ContextFeatures
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.fraud import DeviceFraudDetector, FraudConfig, FraudDetector
from shopstream.operators.history_features import HistoryFeatures
from shopstream.operators.identity import IdentityResolver
from shopstream.operators.product_trends import (
    CategoryTrendsOperator,
    ProductTrendsOperator,
    TrendActivityOperator,
    by_trend_entity,
)
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.operators.rec_learning import PairLearningOperator, anchor_key
from shopstream.operators.rec_models import ModelListOperator
from shopstream.operators.recommendations import RecommendationOperator, RecommendationsConfig
from shopstream.operators.revenue import (
    RevenueConfig,
    RevenueMergeOperator,
    RevenuePartialOperator,
)
from shopstream.operators.rolling_features import RollingFeatures
from shopstream.operators.rules import RuleMiningOperator, RulesStreamConfig
from shopstream.operators.segment_counts import SegmentCountsOperator, by_user_group
from shopstream.operators.session_features import SessionFeatures
from shopstream.operators.top_products import (
    TopProductsConfig,
    TopProductsMergeOperator,
    TopProductsPartialOperator,
)
from shopstream.operators.trending import TrendingOperator
from shopstream.operators.trending_partials import (
    TrendingActivityOperator,
    TrendingMergeOperator,
    TrendingPartialOperator,
)
from shopstream.profiles.trends import TrendsConfig
from shopstream.topology import Stage, Topology

__all__ = ["GLOBAL_KEY", "PipelineConfig", "by_customer", "by_device", "by_key_group",
           "by_pair_anchor", "by_product_group", "by_session", "by_user",
           "default_topology", "feature_stages", "global_key", "profile_stages",
           "recommendation_stages", "trend_stages"]


_CUSTOMER_CHANGE = EventType.CUSTOMER_CHANGE


def by_session(event: ShopperEvent) -> str:
    """Key of session-scoped operators."""
    return event.session_id


def by_user(event: ShopperEvent) -> str:
    """Key of user-scoped operators."""
    return event.user_id


def by_key_group(groups: int) -> Callable[[Any], str]:
    """Key of partial aggregations: one of ``groups`` key groups by a stable hash of the
    session id (the same on every runner and every run).

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> by_key_group(8)(ShopperEvent(EventType.VIEW_PRODUCT, 0, "s1", product_id="p"))
    'g0'
    """
    names = tuple(f"g{group}" for group in range(groups))  # not formatted per record

    def key(record: Any) -> str:
        return names[zlib.crc32(record.session_id.encode()) % groups]
    return key


def by_product_group(groups: int) -> Callable[[Any], str]:
    """Key of the trending partials: one of ``groups`` key groups by a stable hash of the
    record's product id (the same on every runner and every run), so that a product's
    counts live in one group.

    Examples
    --------
    >>> from shopstream.operators.trending_partials import TrendAction
    >>> by_product_group(8)(TrendAction("p", 1.0))
    'g1'
    """
    names = tuple(f"g{group}" for group in range(groups))

    def key(record: Any) -> str:
        return names[zlib.crc32(record.product_id.encode()) % groups]
    return key


def by_pair_anchor(delta: Any) -> str:
    """Key of the recommender's merge stage: the anchor product."""
    return anchor_key(delta.anchor)


#: The one key of global operators (rules) and of the merge phase of two-phase ones
#: (revenue, top products, trending): all their input on one key.
GLOBAL_KEY = "all"


def by_customer(basket: BasketCompletion) -> str:
    """Key of customer-scoped operators on completed baskets."""
    return basket.user_id


def by_device(basket: BasketCompletion) -> str:
    """Key of device-scoped operators on completed baskets (empty without a device)."""
    return basket.device or ""


def global_key(_: object) -> str:
    """Key of global operators."""
    return GLOBAL_KEY


@dataclass(frozen=True)
class PipelineConfig:
    """Configuration of every operator in the default pipeline.

    ``features`` turns on the live-shopper feature operators (stream ``shopper-features``);
    they are off by default because they cost several times the rest of the pipeline per
    event (see the README's bench numbers).
    """

    baskets: BasketConfig = field(default_factory=BasketConfig)
    features: FeaturesConfig | None = None
    abandonment: AbandonmentConfig = field(default_factory=AbandonmentConfig)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    #: Also compare orders across customers of one ``device``: only when the field holds a
    #: device or card fingerprint, not a device type (see DeviceFraudDetector).
    fraud_by_device: bool = False
    revenue: RevenueConfig = field(default_factory=RevenueConfig)
    top_products: TopProductsConfig = field(default_factory=TopProductsConfig)
    rules: RulesStreamConfig = field(default_factory=RulesStreamConfig)
    #: Trending products and per-event recommendations (``None`` turns both off).
    recommendations: RecommendationsConfig | None = field(
        default_factory=RecommendationsConfig)
    #: Customer 360 profiles, segments and next best actions (``None`` turns them off;
    #: see docs/profiles.md for their cost).
    profiles: ProfilesConfig | None = None
    #: Product and category trends (``product-trends``, ``category-trends``; ``None``
    #: turns them off: the default, as they cost about 60% more CPU on a replay; ``serve``
    #: turns them on; see docs/trends.md).
    trends: TrendsConfig | None = None
    #: Key groups of the two-phase global statistics: revenue and top products (each
    #: window's partials computed per key group of sessions) and trending (each slide's
    #: best products per key group of products), then merged on one key.
    global_key_groups: int = 8
    #: Trending in two phases (each key group of products, then merged on one key: the
    #: same lists while no 1-minute pane holds more than the sketch's capacity of
    #: distinct products), so that it scales with a distributed engine's parallelism.
    #: Off by default: on the embedded runner it costs about 28% more CPU per event
    #: (``bench/rec_stage_cpu.py``, simulator stream, 146 -> 187 us); on then, trending
    #: reads every event on the one global key.
    two_phase_trending: bool = False

    def __post_init__(self) -> None:
        require_positive(self, "global_key_groups")


def default_topology(config: PipelineConfig | None = None) -> Topology:
    """Build the default pipeline's topology from ``config``."""
    cfg = config or PipelineConfig()
    groups = by_key_group(cfg.global_key_groups)
    stages: tuple[Stage, ...] = (
        Stage(BasketTracker(cfg.baskets), inputs=(streams.EVENTS,), key_by=by_session),
        Stage(CartAbandonmentDetector(cfg.abandonment), inputs=(streams.EVENTS,),
              key_by=by_session),
        # Orders are the completed baskets: their totalValue is the order value rule.
        Stage(FraudDetector(cfg.fraud), inputs=(streams.BASKET_COMPLETIONS,),
              key_by=by_customer),
        # Two phases: the partials per key group (one key function, so that Flink runs
        # both partial stages as one operator), each window merged on the global key.
        Stage(RevenuePartialOperator(cfg.revenue), inputs=(streams.BASKET_COMPLETIONS,),
              key_by=groups),
        Stage(TopProductsPartialOperator(cfg.top_products),
              inputs=(streams.BASKET_COMPLETIONS,), key_by=groups),
        Stage(RevenueMergeOperator(cfg.revenue), inputs=(streams.REVENUE_PARTIALS,),
              key_by=global_key, event_time_order=False),
        Stage(TopProductsMergeOperator(cfg.top_products),
              inputs=(streams.TOP_PRODUCTS_PARTIALS,), key_by=global_key,
              event_time_order=False),
        Stage(RuleMiningOperator(cfg.rules), inputs=(streams.BASKET_COMPLETIONS,),
              key_by=global_key),
    )
    if cfg.fraud_by_device:
        stages += (Stage(DeviceFraudDetector(cfg.fraud), inputs=(streams.BASKET_COMPLETIONS,),
                         key_by=by_device),)
    sinks: tuple[str, ...] = (
        streams.BASKET_COMPLETIONS, streams.ABANDONED_BASKETS, streams.CART_ABANDONMENT,
        streams.FRAUD_ALERTS, streams.REVENUE_STATS, streams.TOP_PRODUCTS,
        streams.BASKET_PATTERNS, streams.RULES_BY_ANTECEDENT, streams.CATALOG_CHANGES)
    if cfg.recommendations is not None:
        stages += recommendation_stages(cfg.recommendations, cfg.global_key_groups,
                                        two_phase_trending=cfg.two_phase_trending)
        sinks += (streams.PRODUCT_RECOMMENDATIONS, streams.TRENDING_PRODUCTS)
    if cfg.trends is not None:
        stages += trend_stages(cfg.trends)
        sinks += (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS)
    if cfg.features is not None:
        stages += feature_stages(cfg.features)
        sinks += (streams.SHOPPER_FEATURES,)
    if cfg.profiles is not None:
        stages += profile_stages(cfg.profiles)
        sinks += (streams.PROFILES, streams.SEGMENT_CHANGES, streams.SEGMENT_COUNTS)
    return Topology(stages, sink_streams=sinks)


def trend_stages(config: TrendsConfig) -> tuple[Stage, ...]:
    """Trend detection: the products and categories of each event (stateless), then
    one trend operator keyed by product and one keyed by category.

    Examples
    --------
    >>> [stage.name for stage in trend_stages(TrendsConfig())]
    ['trend-activity', 'product-trends', 'category-trends']
    """
    return (
        Stage(TrendActivityOperator(), inputs=(streams.EVENTS,), key_by=by_session),
        Stage(ProductTrendsOperator(config), inputs=(streams.PRODUCT_ACTIVITY,),
              key_by=by_trend_entity),
        Stage(CategoryTrendsOperator(config), inputs=(streams.CATEGORY_ACTIVITY,),
              key_by=by_trend_entity),
    )


def recommendation_stages(config: RecommendationsConfig, global_key_groups: int = 8, *,
                          two_phase_trending: bool = False) -> tuple[Stage, ...]:
    """Learning apart from serving: trending (global; with ``two_phase_trending``: each
    event's products, keyed by session; their counts and best products per key group of
    products, of ``global_key_groups``; merged on the global key), the pair learners (per
    key group), the list publishers (per product) and the per-shopper recommender, which
    reads the published lists from broadcasts.

    Examples
    --------
    >>> [stage.name for stage in recommendation_stages(RecommendationsConfig())]
    ['trending', 'rec-learning', 'rec-models', 'recommendations']
    >>> [stage.name for stage in recommendation_stages(RecommendationsConfig(),
    ...                                                two_phase_trending=True)][:3]
    ['trending-activity', 'trending-partials', 'trending']
    """
    rec = config.recommend
    trending = rec.trending
    trending_stages: tuple[Stage, ...] = (
        Stage(TrendingOperator(trending), inputs=(streams.EVENTS,), key_by=global_key),)
    if two_phase_trending:
        trending_stages = (
            # by_session: on Flink the fan-out runs in the baskets' operator (same key).
            Stage(TrendingActivityOperator(trending), inputs=(streams.EVENTS,),
                  key_by=by_session),
            Stage(TrendingPartialOperator(trending), inputs=(streams.TRENDING_ACTIVITY,),
                  key_by=by_product_group(global_key_groups)),
            Stage(TrendingMergeOperator(trending), inputs=(streams.TRENDING_PARTIALS,),
                  key_by=global_key, event_time_order=False),
        )
    return (
        *trending_stages,
        Stage(PairLearningOperator(rec), inputs=(streams.EVENTS, streams.BASKET_COMPLETIONS),
              key_by=by_key_group(rec.key_groups)),
        Stage(ModelListOperator(rec), inputs=(streams.REC_PAIRS,), key_by=by_pair_anchor),
        Stage(RecommendationOperator(config), inputs=(streams.EVENTS,), key_by=by_user,
              broadcast_inputs=(streams.RECOMMENDATION_MODELS, streams.RULES_BY_ANTECEDENT,
                                streams.TRENDING_PRODUCTS, streams.CATALOG_CHANGES)),
    )


def feature_stages(config: FeaturesConfig) -> tuple[Stage, ...]:
    """The live-shopper feature operators, all writing ``shopper-features``.

    Examples
    --------
    >>> [stage.name for stage in feature_stages(FeaturesConfig())]
    ['rolling-features', 'session-features', 'history-features', 'context-features']
    """
    events = (streams.EVENTS,)
    return (
        Stage(RollingFeatures(config), inputs=events, key_by=by_user),
        Stage(SessionFeatures(config), inputs=events, key_by=by_session),
        Stage(HistoryFeatures(config), inputs=events, key_by=by_user),
        Stage(ContextFeatures(config), inputs=events, key_by=by_user),
    )


def by_resolved_user(record: Any) -> str:
    """Key of the profile operator: the user an identity-resolved event belongs to, or
    the customer of a ``CUSTOMER_CHANGE``; other catalog changes (which the operator
    ignores) are spread by product, not gathered on one hot key.

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> by_resolved_user(ShopperEvent(EventType.CUSTOMER_CHANGE, 0, "pg-catalog",
    ...                               user_id="42"))
    '42'
    >>> by_resolved_user(ShopperEvent(EventType.PRODUCT_CHANGE, 0, "pg-catalog",
    ...                               user_id="pg-catalog", product_id="7"))
    'product-change:7'
    """
    if isinstance(record, ShopperEvent) and record.event_type is not _CUSTOMER_CHANGE:
        return f"product-change:{record.product_id}"
    return str(record.user_id)


def profile_stages(config: ProfilesConfig) -> tuple[Stage, ...]:
    """Customer 360: identity resolution (per session), profiles (per user) and the
    segment counts (per user group), writing ``profiles``, ``segment-changes`` and
    ``segment-counts``; the profiles also read the shop database's customer changes
    (``CUSTOMER_CHANGE`` on ``catalog-changes``, keyed by customer), refitted models
    from the ``profile-models`` broadcast (published by the retrain job) and, when the
    trend stages run (declared before these), the ``category-trends`` readings as a
    broadcast for the trend-aware next best action.

    Examples
    --------
    >>> [stage.name for stage in profile_stages(ProfilesConfig())]
    ['profile-identity', 'customer-profiles', 'segment-counts']
    """
    return (
        Stage(IdentityResolver(config), inputs=(streams.EVENTS,), key_by=by_session),
        Stage(CustomerProfileOperator(config),
              inputs=(streams.PROFILE_EVENTS, streams.CATALOG_CHANGES),
              key_by=by_resolved_user,
              broadcast_inputs=(streams.PROFILE_MODELS, streams.CATEGORY_TRENDS)),
        Stage(SegmentCountsOperator(config), inputs=(streams.SEGMENT_CHANGES,),
              key_by=by_user_group(config.segment_groups)),
    )
