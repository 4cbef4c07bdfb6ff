"""Trends over the store: ``GET /products/{id}/trend`` and ``GET /categories/{name}/trend``.

Both answer from the store alone (``trend:product:{id}`` and ``trend:category:{name}``,
written from the ``product-trends`` and ``category-trends`` streams; see
:mod:`shopstream.operators.product_trends` and docs/trends.md): the latest reading, with
``label`` (rising, falling, stable, volatile), ``strength``, predicted ``direction`` and
``confidence``, ``velocity`` and ``acceleration``, and the window it judged. 404 when none
is stored, 503 when the store cannot be read.

Examples
--------
>>> import tempfile
>>> from shopstream.stores.base import StoreEntry
>>> from shopstream.stores.embedded import SqliteStore
>>> store = SqliteStore(tempfile.mkdtemp() + "/t.db")
>>> store.write_batch([StoreEntry("trend:product:p1", {"entityId": "p1", "label": "rising"})])
>>> trend_answer(store, "product", "p1")
(200, {'entityId': 'p1', 'label': 'rising'})
>>> trend_answer(store, "category", "Food")
(404, {'detail': "no trend stored for category 'Food' (key trend:category:Food)"})
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.api.store_routes import stored_value
from shopstream.errors import require
from shopstream.events.trends import CATEGORY, PRODUCT
from shopstream.stores.base import FeatureStore
from shopstream.stores.keys import trend_key

try:
    import fastapi
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["trend_answer", "trends_router"]

_encode = msgspec.json.Encoder().encode


def trend_answer(store: FeatureStore, entity: str, entity_id: str) -> tuple[int, Any]:
    """Status and body of the trend of one product or category."""
    key = trend_key(entity, entity_id)
    return stored_value(store, key, f"no trend stored for {entity} {entity_id!r} (key {key})")


def trends_router(state: Any) -> Any:
    """The two routes over ``state.store`` (a :class:`~shopstream.api.app.ServeState`)."""
    router = fastapi.APIRouter(tags=["trends"])

    @router.get("/products/{product_id}/trend", summary="Trend of a product")
    async def product_trend(product_id: str) -> Response:
        """The latest trend reading of ``product_id``; 404 when none is stored."""
        return _response(*trend_answer(state.store, PRODUCT, product_id))

    @router.get("/categories/{category}/trend", summary="Trend of a category")
    async def category_trend(category: str) -> Response:
        """The latest trend reading of ``category``; 404 when none is stored."""
        return _response(*trend_answer(state.store, CATEGORY, category))

    return router


def _response(status: int, body: Any) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")
