"""Records of trend detection: the internal activity stream and ``product-trends``.

``product-activity`` (internal) carries one :class:`TrendActivity` per product an event
is about (a purchase with items: one per item); ``category-activity`` (internal) the same
for the product's category when the event names one. ``product-trends`` carries
:class:`EntityTrend` readings of products, ``category-trends`` of categories: the
:class:`TrendFigures` of a reading (the fields live once, here; the trend model's
:class:`~shopstream.profiles.trends.TrendReading` derives from them too) after the
entity and the window. camelCase on the wire.

Examples
--------
>>> import msgspec
>>> msgspec.json.encode(TrendActivity("p1", "Food", 0, 2)).decode()
'{"entityId":"p1","category":"Food","kind":0,"quantity":2}'
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["CATEGORY", "FIGURES", "PRODUCT", "EntityTrend", "TrendActivity", "TrendFigures"]

PRODUCT: Final = "product"
CATEGORY: Final = "category"


class TrendActivity(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """``quantity`` views (kind 0), adds to cart (1) or purchased units (2) of a product
    or category (``entity_id``) at the element's event time."""

    entity_id: str
    category: str | None
    kind: int
    quantity: int


class TrendFigures(msgspec.Struct, frozen=True, rename="camel", kw_only=True, gc=False):
    """What a trend reading says (:func:`shopstream.profiles.trends.read_trend` makes them;
    :class:`shopstream.profiles.trends.TrendReading` and :class:`EntityTrend` are these
    figures and more).

    ``label`` is ``rising``, ``falling``, ``stable`` or ``volatile``; ``strength`` and
    ``confidence`` are 0-1; ``direction`` is the predicted ``up``, ``down`` or ``flat``;
    ``velocity`` (per day) and ``acceleration`` (per day^2) are in season-free weighted
    activity per day; ``level`` is that activity's mean, ``change`` the relative change
    over the window, ``days`` how many days of it the window holds; ``views``, ``adds``
    and ``purchases`` count the window's events; ``seasonality`` says which weekly
    profile was taken out (``given``, ``own``, ``flat``). Keyword-only, so that a record
    deriving from them keeps its own fields first.
    """

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


#: The fields of :class:`TrendFigures`, in order.
FIGURES: Final = TrendFigures.__struct_fields__


class EntityTrend(TrendFigures, frozen=True, rename="camel", gc=False):
    """A trend reading (:class:`TrendFigures`) of one product or category (``entity``,
    ``entity_id``) for the window ``[window_start, window_end)`` (event time, ms).

    >>> figures = TrendFigures(label="rising", strength=0.8, direction="up",
    ...                        confidence=0.9, velocity=2.0, acceleration=0.0, level=10.0,
    ...                        change=0.5, days=14.0, views=100, adds=10, purchases=3,
    ...                        seasonality="own")
    >>> trend = EntityTrend.of(PRODUCT, "p1", 0, 3_600_000, figures)
    >>> msgspec.json.encode(trend).decode()[:72]
    '{"entity":"product","entityId":"p1","windowStart":0,"windowEnd":3600000,'
    >>> trend.label, trend.purchases
    ('rising', 3)
    """

    entity: str
    entity_id: str
    window_start: int
    window_end: int

    @classmethod
    def of(cls, entity: str, entity_id: str, window_start: int, window_end: int,
           figures: TrendFigures) -> EntityTrend:
        """The reading ``figures`` of ``entity_id`` as a wire record (the label as a plain
        string)."""
        values = {name: getattr(figures, name) for name in FIGURES}
        values["label"] = str(values["label"])
        return cls(entity=entity, entity_id=entity_id, window_start=window_start,
                   window_end=window_end, **values)
