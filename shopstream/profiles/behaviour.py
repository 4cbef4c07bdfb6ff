"""Behavioural segments: six kinds of shopper, by explicit rules on lifetime counts.

Counts (never decayed): ``orders``, ``revenue``, product ``views``, ``items`` bought and
``deal_items`` (bought at a unit price at or under ``low_price``, or in an order or
session that came from a ``campaign``), and the session metrics of
:mod:`~shopstream.profiles.engagement`. ``views per order`` is ``views / orders``.

The rules, first match wins:

=================== =============================================================
``loyal_customer``  ``orders >= loyal_orders`` (3) and ``revenue >= loyal_revenue``
                    (300.0): repeat purchases, high value
``price_sensitive`` ``orders >= 1`` and ``deal_items / items >= deal_share`` (0.5)
``impulse_buyer``   ``orders >= 1``, mean duration of the sessions with a purchase
                    ``<= impulse_max_s`` (300 s) and views per order
                    ``<= impulse_max_views`` (5): short sessions ending in purchases
``researcher``      ``orders >= 1``, mean session duration ``>= research_min_s``
                    (600 s) and views per order ``>= research_min_views`` (15)
``buyer``           ``orders >= buyer_orders`` (2): buys regularly
``browser``         everything else: views, rarely (at most once) or never buys
=================== =============================================================

Every bound is inclusive, as written. A shopper who has done nothing yet is a
``browser``.

Examples
--------
>>> config = BehaviourConfig()
>>> def seg(**kw):
...     base = dict(orders=0, revenue=0.0, views=0, items=0, deal_items=0,
...                 avg_session_s=0.0, avg_purchase_session_s=None)
...     return behaviour_segment(BehaviourStats(**{**base, **kw}), config)
>>> seg(orders=3, revenue=300.0, items=3)
'loyal_customer'
>>> seg(orders=3, revenue=299.99, items=3, avg_purchase_session_s=900.0, views=30)
'buyer'
>>> seg(orders=1, revenue=20.0, items=2, deal_items=1)
'price_sensitive'
>>> seg(orders=1, revenue=50.0, items=1, views=5, avg_purchase_session_s=300.0)
'impulse_buyer'
>>> seg(orders=1, revenue=50.0, items=1, views=15, avg_session_s=600.0,
...     avg_purchase_session_s=900.0)
'researcher'
>>> seg(views=40)
'browser'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from shopstream.errors import ConfigError

__all__ = ["BEHAVIOUR_SEGMENTS", "BehaviourConfig", "BehaviourSegment", "BehaviourStats",
           "behaviour_segment"]

BehaviourSegment = Literal["loyal_customer", "price_sensitive", "impulse_buyer", "researcher",
                           "buyer", "browser"]
#: Every segment, in the order the rules are tried.
BEHAVIOUR_SEGMENTS: tuple[BehaviourSegment, ...] = (
    "loyal_customer", "price_sensitive", "impulse_buyer", "researcher", "buyer", "browser")


@dataclass(frozen=True)
class BehaviourConfig:
    """The thresholds of :func:`behaviour_segment` (see the table in the module docs)."""

    loyal_orders: int = 3
    loyal_revenue: float = 300.0
    low_price: float = 15.0
    deal_share: float = 0.5
    impulse_max_s: float = 300.0
    impulse_max_views: float = 5.0
    research_min_s: float = 600.0
    research_min_views: float = 15.0
    buyer_orders: int = 2

    def __post_init__(self) -> None:
        if self.loyal_orders < 1 or self.buyer_orders < 1:
            msg = (f"BehaviourConfig needs loyal_orders >= 1 and buyer_orders >= 1, got "
                   f"loyal_orders={self.loyal_orders!r}, buyer_orders={self.buyer_orders!r}")
            raise ConfigError(msg)
        if not 0 < self.deal_share <= 1:
            msg = f"BehaviourConfig.deal_share must be in (0, 1], got {self.deal_share!r}"
            raise ConfigError(msg)
        for name in ("loyal_revenue", "low_price", "impulse_max_s", "impulse_max_views",
                     "research_min_s", "research_min_views"):
            value = getattr(self, name)
            if not value >= 0:
                msg = f"BehaviourConfig.{name} must be >= 0, got {value!r}"
                raise ConfigError(msg)


class BehaviourStats(msgspec.Struct, frozen=True, gc=False):
    """What the rules read (see module docs); ``avg_purchase_session_s`` is ``None``
    when no session had a purchase."""

    orders: int
    revenue: float
    views: int
    items: int
    deal_items: int
    avg_session_s: float
    avg_purchase_session_s: float | None


def behaviour_segment(stats: BehaviourStats, config: BehaviourConfig) -> BehaviourSegment:
    """The segment of a shopper (rules in the module docs, first match wins)."""
    orders = stats.orders
    if orders >= config.loyal_orders and stats.revenue >= config.loyal_revenue:
        return "loyal_customer"
    if orders >= 1:
        if stats.items and stats.deal_items / stats.items >= config.deal_share:
            return "price_sensitive"
        views_per_order = stats.views / orders
        quick = stats.avg_purchase_session_s
        if (quick is not None and quick <= config.impulse_max_s
                and views_per_order <= config.impulse_max_views):
            return "impulse_buyer"
        if (stats.avg_session_s >= config.research_min_s
                and views_per_order >= config.research_min_views):
            return "researcher"
        if orders >= config.buyer_orders:
            return "buyer"
    return "browser"
