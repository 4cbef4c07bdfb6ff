"""A shopper's scheduled recommendations: ``GET /users/{id}/recommendations``.

The hot-recommendations and daily-recommendations jobs (:mod:`shopstream.jobs`) write one
list per shopper to the store under ``recs:user:{userId}``
(:func:`~shopstream.stores.keys.user_recs_key`); this route answers it from the store
alone, so any number of server processes can serve it. It sits behind the same guard as
every read: with ``read_keys`` (``serve --read-keys``) it needs an API key like
``/users/{id}/features``. An erased shopper's list is gone with their other keys.

The answer is the stored list: ``userId``, ``products`` best first with their ``scores``
and ``sources`` (the recommender that named each), ``modelVersion``, ``job`` (``hot`` or
``daily``) and ``generatedAtMs``; 404 when none is stored (a shopper no job has reached,
or whose list expired), 503 when the store does not answer. Cost: one store read.

Examples
--------
>>> from shopstream.stores.embedded import temporary_store
>>> store = temporary_store({"recs:user:u1": {"userId": "u1", "products": ["tea"],
...     "scores": [0.5], "sources": ["ITEM_CF"], "modelVersion": 3, "job": "daily",
...     "generatedAtMs": 10}})
>>> status, body = user_recommendations_answer(store, "u1")
>>> status, body["products"], body["job"]
(200, ['tea'], 'daily')
>>> user_recommendations_answer(store, "nobody")
(404, {'detail': "no scheduled recommendations stored for user 'nobody' (key recs:user:nobody)"})
>>> store.close()
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.api.store_routes import stored_value
from shopstream.errors import require
from shopstream.stores.base import FeatureStore
from shopstream.stores.keys import user_recs_key

try:
    import fastapi
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["user_recommendations_answer", "user_recs_router"]

_encode = msgspec.json.Encoder().encode


def user_recommendations_answer(store: FeatureStore, user_id: str
                                ) -> tuple[int, dict[str, Any]]:
    """Status and body of ``GET /users/{user_id}/recommendations``."""
    key = user_recs_key(user_id)
    status, value = stored_value(store, key, f"no scheduled recommendations stored for user "
                                             f"{user_id!r} (key {key})")
    if status != 200 or isinstance(value, dict):
        return status, value
    return 200, {"userId": user_id, "products": value}


def user_recs_router(store: FeatureStore) -> Any:
    """The route over ``store``."""
    router = fastapi.APIRouter(tags=["recommendations"])

    @router.get("/users/{user_id}/recommendations",
                summary="Scheduled recommendations of a shopper")
    async def user_recommendations(user_id: str) -> Response:
        """The latest list the hot or daily recommendations job stored for ``user_id``,
        best first, with scores, sources, model version and when it was made; 404 when
        none is stored."""
        status, body = user_recommendations_answer(store, user_id)
        return Response(_encode(body), status_code=status, media_type="application/json")

    return router
