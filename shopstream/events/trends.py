"""Records of trend detection: the internal activity stream and ``product-trends``.

``product-activity`` (internal) carries one :class:`TrendActivity` per product an event
is about (a purchase with items: one per item); ``category-activity`` (internal) the same
for the product's category when the event names one. ``product-trends`` carries
:class:`EntityTrend` readings of products, ``category-trends`` of categories (see
:mod:`shopstream.profiles.trends` for what the fields mean). camelCase on the wire.

Examples
--------
>>> import msgspec
>>> msgspec.json.encode(TrendActivity("p1", "Food", 0, 2)).decode()
'{"entityId":"p1","category":"Food","kind":0,"quantity":2}'
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["CATEGORY", "PRODUCT", "EntityTrend", "TrendActivity"]

PRODUCT: Final = "product"
CATEGORY: Final = "category"


class TrendActivity(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """``quantity`` views (kind 0), adds to cart (1) or purchased units (2) of a product
    or category (``entity_id``) at the element's event time."""

    entity_id: str
    category: str | None
    kind: int
    quantity: int


class EntityTrend(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A trend reading of one product or category for the window
    ``[window_start, window_end)`` (event time, ms).

    ``label`` is ``rising``, ``falling``, ``stable`` or ``volatile``; ``strength`` and
    ``confidence`` are 0-1; ``direction`` is the predicted ``up``, ``down`` or ``flat``;
    ``velocity`` (per day) and ``acceleration`` (per day^2) are in season-free weighted
    activity per day; ``level`` is that activity's mean, ``change`` the relative change
    over the window; ``views``, ``adds`` and ``purchases`` count the window's events;
    ``seasonality`` says which weekly profile was taken out (``given``, ``own``, ``flat``).
    """

    entity: str
    entity_id: str
    window_start: int
    window_end: int
    label: str
    strength: float
    direction: str
    confidence: float
    velocity: float
    acceleration: float
    level: float
    change: float
    days: float
    views: int
    adds: int
    purchases: int
    seasonality: str
