"""Names of the streams, as the topics and files they become."""

from __future__ import annotations

from typing import Final

EVENTS: Final = "events"
BASKET_COMPLETIONS: Final = "basket-completions"
ABANDONED_BASKETS: Final = "abandoned-baskets"
BASKET_PATTERNS: Final = "basket-patterns"
PRODUCT_RECOMMENDATIONS: Final = "product-recommendations"
TRENDING_PRODUCTS: Final = "trending-products"
CART_ABANDONMENT: Final = "cart-abandonment"
FRAUD_ALERTS: Final = "fraud-alerts"
REVENUE_STATS: Final = "revenue-stats"
TOP_PRODUCTS: Final = "top-products"
#: Internal: each key group's share of a revenue / top-products window, merged on one key.
REVENUE_PARTIALS: Final = "revenue-partials"
TOP_PRODUCTS_PARTIALS: Final = "top-products-partials"
#: Internal: one record per product of an event that trending counts, keyed by product group;
#: each product group's trending candidates per slide, merged on one key.
TRENDING_ACTIVITY: Final = "trending-activity"
TRENDING_PARTIALS: Final = "trending-partials"
SHOPPER_FEATURES: Final = "shopper-features"
#: Catalog and account changes (``PRODUCT_CHANGE``, ``CUSTOMER_CHANGE`` events), kept out
#: of ``events`` so session and user operators never see them; a broadcast for operators
#: that need the catalog (recommendations skip products out of stock).
CATALOG_CHANGES: Final = "catalog-changes"
#: Customer 360: the latest profile of a shopper (key: user id).
PROFILES: Final = "profiles"
#: A shopper's behavioural segment changed (key: user id).
SEGMENT_CHANGES: Final = "segment-changes"
#: Shoppers per segment, one record per key group (summed by the API).
SEGMENT_COUNTS: Final = "segment-counts"
#: Internal: shopper events with anonymous sessions resolved to their user.
PROFILE_EVENTS: Final = "profile-events"
DEAD_LETTER: Final = "dead-letter"
LATE_EVENTS: Final = "late-events"
#: Internal broadcast: batches of rule changes for the operators that use rules.
RULE_UPDATES: Final = "rule-updates"
#: The current rules of each antecedent whose rules just changed (for stores and the API).
RULES_BY_ANTECEDENT: Final = "rules-by-antecedent"
#: Published model lists of the recommender (next items, co-occurrence, bought together,
#: popular), versioned by event time; the recommendation operator's broadcast input.
RECOMMENDATION_MODELS: Final = "recommendation-models"
#: Internal: partial pair counts of the recommender's learners, keyed by anchor product.
REC_PAIRS: Final = "rec-pairs"
#: Internal, not written: one record (the end time) per session the basket tracker closes;
#: the runner's summary counts sessions with it.
SESSIONS_ENDED: Final = "sessions-ended"
#: Trend readings of products and of categories (shopstream.profiles.trends).
PRODUCT_TRENDS: Final = "product-trends"
CATEGORY_TRENDS: Final = "category-trends"
#: Internal: one record per product (or category) an event is about, keyed by it.
PRODUCT_ACTIVITY: Final = "product-activity"
CATEGORY_ACTIVITY: Final = "category-activity"
#: Internal broadcast: refitted lifetime-value models and RFM thresholds, versioned by
#: event time (:class:`~shopstream.events.profile_models.ProfileModel`), published by the
#: retrain to the Customer 360 operator; never written out.
PROFILE_MODELS: Final = "profile-models"

#: Streams that connect operators and are never written out.
INTERNAL: Final = frozenset({EVENTS, RULE_UPDATES, SESSIONS_ENDED, REC_PAIRS,
                             PROFILE_EVENTS, PRODUCT_ACTIVITY, CATEGORY_ACTIVITY,
                             PROFILE_MODELS, REVENUE_PARTIALS, TOP_PRODUCTS_PARTIALS,
                             TRENDING_ACTIVITY, TRENDING_PARTIALS})
