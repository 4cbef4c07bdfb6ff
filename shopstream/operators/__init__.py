"""Pure operators: one module each, no I/O, no wall clock, all state declared."""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "abandonment",
    "baskets",
    "cart",
    "context_features",
    "feature_catalog",
    "fraud",
    "history_features",
    "identity",
    "product_trends",
    "profile_config",
    "profiles",
    "rec_learning",
    "rec_models",
    "recommendations",
    "revenue",
    "rolling_features",
    "rules",
    "segment_counts",
    "session_features",
    "top_products",
    "trending",
    "windows",
]
