"""Output records of the commerce insight streams: cart abandonment, fraud alerts, revenue
and top-product statistics (camelCase on the wire, like every record).

Examples
--------
>>> import msgspec
>>> msgspec.json.encode(RevenueStats(0, 60_000, 12.5, 1, 12.5, 1, None, None)).decode()
'{"windowStart":0,"windowEnd":60000,"revenue":12.5,"orderCount":1,"averageOrderValue":12.5,\
"uniqueCustomers":1,"revenueChange":null,"revenueChangePct":null}'
"""

from __future__ import annotations

from typing import Final

import msgspec

from shopstream.events.records import BasketLine

__all__ = [
    "HIGH",
    "LOW",
    "MEDIUM",
    "CartAbandonment",
    "CategoryStat",
    "FraudAlert",
    "ProductStat",
    "RecommendedProduct",
    "RevenueStats",
    "RisingProduct",
    "TopProducts",
]

#: Fraud alert severities, from least to most urgent.
LOW: Final = "LOW"
MEDIUM: Final = "MEDIUM"
HIGH: Final = "HIGH"


# gc=False: these hold only scalars and tuples of such records (see events/model.py).
class RecommendedProduct(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A product to show a shopper who left a cart, and why it was picked."""

    product_id: str
    product_name: str | None
    category: str | None
    reason: str


class CartAbandonment(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A valuable cart with no purchase within the timeout after its last add.

    ``last_add_time`` and ``detected_at`` are epoch milliseconds; ``offer`` is the code of
    the offer tier the cart value falls in; ``recommendation_source`` says where the
    recommendations came from (``session-views`` until a recommender is wired in).
    """

    session_id: str
    user_id: str
    items: tuple[BasketLine, ...]
    cart_value: float
    last_add_time: int
    detected_at: int
    recommendations: tuple[RecommendedProduct, ...]
    offer: str
    recommendation_source: str = "session-views"


class FraudAlert(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A suspicious pattern in a customer's (or a device's) orders.

    ``rule`` is ``FREQUENT_ORDERS``, ``HIGH_VALUE`` or ``REPEATED_ORDER``; ``order_ids``,
    ``amounts``, ``order_times`` and ``user_ids`` are the evidence, oldest first (one entry
    per order); ``scope`` is ``CUSTOMER`` or ``DEVICE`` (orders of several customers on
    one device).
    """

    rule: str
    user_id: str
    order_ids: tuple[str, ...]
    amounts: tuple[float, ...]
    order_times: tuple[int, ...]
    severity: str
    detected_at: int
    reason: str
    scope: str = "CUSTOMER"
    device: str | None = None
    user_ids: tuple[str, ...] = ()


class RevenueStats(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Orders of one tumbling event-time window ``[window_start, window_end)``.

    ``revenue_change`` is the difference with the previous window (``None`` for the first
    window), ``revenue_change_pct`` the same in percent (``None`` when the previous
    revenue was 0).
    """

    window_start: int
    window_end: int
    revenue: float
    order_count: int
    average_order_value: float
    unique_customers: int
    revenue_change: float | None
    revenue_change_pct: float | None


class ProductStat(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """What one product sold in a window; ``orders`` counts orders containing it."""

    product_id: str
    product_name: str | None
    category: str | None
    quantity: int
    revenue: float
    orders: int


class CategoryStat(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """What one category sold in a window; ``products`` counts distinct products."""

    category: str | None
    quantity: int
    revenue: float
    orders: int
    products: int


class RisingProduct(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A product ordered markedly more often than in the previous window."""

    product_id: str
    product_name: str | None
    orders: int
    previous_orders: int


class TopProducts(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Best sellers of one tumbling window ``[window_start, window_end)``."""

    window_start: int
    window_end: int
    order_count: int
    by_quantity: tuple[ProductStat, ...]
    by_revenue: tuple[ProductStat, ...]
    by_category: tuple[CategoryStat, ...]
    rising: tuple[RisingProduct, ...]
