"""The live-shopper feature catalog: names, windows and the configuration they share.

Every feature operator emits :class:`~shopstream.events.records.ShopperFeatures` records
on ``shopper-features`` whose keys are the names listed here, so the store, the API and
the tests agree on them. Rolling names carry their window suffix (``_5min``, ``_1hr``),
history names ``_24hr``; session and context names have none.

Feature values hold at the end of a 30-second *slot* of event time: a value computed at
slot end ``B`` covers the events with timestamps in ``(B - window, B]``.

Examples
--------
>>> USER_FEATURES[:3]
('product_view_count_5min', 'category_view_count_5min', 'cart_add_count_5min')
>>> len(USER_FEATURES), len(SESSION_FEATURES)
(23, 5)
>>> slot_end(0, 30_000), slot_end(1, 30_000), slot_end(30_000, 30_000)
(0, 30000, 30000)
>>> FeaturesConfig(slide_ms=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: FeaturesConfig.slide_ms must be > 0, got 0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shopstream.errors import ConfigError

__all__ = [
    "CONTEXT_FEATURES",
    "HISTORY_FEATURES",
    "HISTORY_MS",
    "ROLLING_FEATURES",
    "SESSION",
    "SESSION_FEATURES",
    "USER",
    "USER_FEATURES",
    "WINDOWS",
    "FeaturesConfig",
    "slot_end",
]

#: ``entity`` of a :class:`~shopstream.events.records.ShopperFeatures` record.
USER: Final = "user"
SESSION: Final = "session"

#: Rolling windows per user: (suffix, length in ms).
WINDOWS: Final = (("5min", 5 * 60_000), ("1hr", 60 * 60_000))
HISTORY_MS: Final = 24 * 60 * 60_000

#: Rolling features, before their window suffix.
ROLLING_FEATURES: Final = ("product_view_count", "category_view_count", "cart_add_count",
                           "cart_remove_count", "cart_value", "avg_viewed_price",
                           "price_range_viewed")
HISTORY_FEATURES: Final = ("orders_count_24hr", "order_value_24hr", "avg_order_value_24hr",
                           "top_category_24hr", "unique_categories_24hr")
CONTEXT_FEATURES: Final = ("locations", "device_types", "latest_platform", "region_changes")
SESSION_FEATURES: Final = ("session_duration", "session_page_count", "session_bounce",
                           "session_cart_ratio", "session_search_count")

#: Every per-user feature name, as stored and served.
USER_FEATURES: Final = (*(f"{name}_{suffix}" for suffix, _ in WINDOWS
                          for name in ROLLING_FEATURES),
                        *HISTORY_FEATURES, *CONTEXT_FEATURES)


@dataclass(frozen=True)
class FeaturesConfig:
    """Settings shared by the feature operators.

    Parameters
    ----------
    slide_ms
        Event-time slot after which changed values are emitted (default 30 s); rolling
        windows slide by this much.
    session_gap_ms
        Event-time inactivity that ends a session (default 30 minutes).
    context_idle_ms
        Inactivity after which a shopper's context (locations, devices...) is forgotten
        (default 24 hours).
    max_context_values
        Most distinct locations and device types remembered per shopper (default 10).
    """

    slide_ms: int = 30_000
    session_gap_ms: int = 30 * 60_000
    context_idle_ms: int = HISTORY_MS
    max_context_values: int = 10

    def __post_init__(self) -> None:
        for name in ("slide_ms", "session_gap_ms", "context_idle_ms", "max_context_values"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                msg = f"FeaturesConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)


def slot_end(timestamp_ms: int, slide_ms: int) -> int:
    """The first slot boundary at or after ``timestamp_ms`` (slots are aligned to 0)."""
    return -(-timestamp_ms // slide_ms) * slide_ms
