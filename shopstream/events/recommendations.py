"""Records of the recommendation streams: ``product-recommendations`` and
``trending-products``."""

from __future__ import annotations

import msgspec

__all__ = ["ModelList", "PairDelta", "RecommendationContext", "RecommendationEvent",
           "TrendingProduct", "TrendingProducts"]


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


class PairDelta(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Counts one key group learned for one anchor product since its last publication
    (the internal ``rec-pairs`` stream, keyed by anchor product).

    ``kind`` is the model (``NEXT_ITEM``, ``CO_OCCURRENCE``, ``CROSS_SELL``,
    ``POPULAR``); ``anchor`` the product the counts are about (empty for ``POPULAR``);
    ``items`` and ``weights`` the other products and how much they were seen with it.
    """

    kind: str
    anchor: str
    items: tuple[str, ...]
    weights: tuple[float, ...]


class ModelList(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A published model list: the best ``items`` for ``anchor`` under ``kind``, best
    first, valid for every event at or after ``valid_from`` (event time, ms).

    Streams ``recommendation-models``; a recommender reads the newest version whose
    ``valid_from`` is not after the event it serves, so which version a recommendation
    saw depends on event time only, not on when the update arrived. A ``BLENDED`` list
    also names the kind behind each product (``sources``).
    """

    kind: str
    anchor: str
    valid_from: int
    items: tuple[str, ...]
    scores: tuple[float, ...]
    sources: tuple[str, ...] = ()
