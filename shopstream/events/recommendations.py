"""Records of the recommendation streams: ``product-recommendations`` and
``trending-products``."""

from __future__ import annotations

import msgspec

__all__ = ["RecommendationContext", "RecommendationEvent", "TrendingProduct",
           "TrendingProducts"]


class TrendingProduct(msgspec.Struct, frozen=True, rename="camel"):
    """One product of a ``trending-products`` record.

    ``count`` is the window's weighted action count, ``velocity`` the actions per minute
    of the latest pane minus the average of the earlier panes (rising: positive), and
    ``score`` the count with recent panes weighing more (what the list is sorted by).
    """

    product_id: str
    count: float
    velocity: float
    score: float


class TrendingProducts(msgspec.Struct, frozen=True, rename="camel"):
    """The trending list of the window ``[window_start, window_end)`` (event time, ms)."""

    window_start: int
    window_end: int
    products: tuple[TrendingProduct, ...]


class RecommendationContext(msgspec.Struct, frozen=True, rename="camel"):
    """What a recommendation was computed from."""

    basket_size: int
    session_items: int
    variant: str
    sources: tuple[str, ...]


class RecommendationEvent(msgspec.Struct, frozen=True, rename="camel"):
    """Products recommended to a session after one of its events.

    ``recommendation_type`` is the strategy behind most of the products (the
    per-product strategies are in ``context.sources``); ``confidence`` in ``[0, 1]`` is
    the top product's blended score as a share of the best possible (every strategy
    ranking it first). ``recommendation_id`` is deterministic: the session and the
    triggering event's id, so a consumer can drop duplicates after a replay.
    """

    recommendation_id: str
    session_id: str
    user_id: str
    recommendation_type: str
    recommended_products: tuple[str, ...]
    scores: tuple[float, ...]
    confidence: float
    trigger_event: str
    trigger_product_id: str | None
    timestamp: int
    context: RecommendationContext
