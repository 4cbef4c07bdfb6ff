"""The reads a shop makes on every page, answered without FastAPI's routing.

``GET /users/{id}/features``, ``GET /sessions/{id}/recommendations`` and
``GET /users/{id}/profile`` give the same status and bytes as their FastAPI routes
(which stay, for the OpenAPI docs, ``HEAD`` and everything else), from the same
functions; skipping routing, parameter validation and response classes is most of a
request's cost in the app. :class:`HotReads` maps a path to its answer;
:class:`HotPaths` is the ASGI layer using it; :mod:`shopstream.api.fast_protocol`
uses it below ASGI, in the HTTP protocol itself.

Each answer is one store read whose stored JSON bytes are spliced in as they are
(:mod:`shopstream.stores.raw`): no JSON decode or encode of a stored value.

Examples
--------
>>> from shopstream.stores.embedded import temporary_store
>>> store = temporary_store({"recs:session:s1": [{"productId": "p2"}]})
>>> reads = HotReads(store)
>>> reads.answer("/sessions/s1/recommendations")
(200, b'{"sessionId":"s1","recommendations":[{"productId":"p2"}]}')
>>> reads.answer("/users/u9/profile")[0], reads.answer("/users//features")
(404, None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopstream.api.profiles_routes import profile_body
from shopstream.api.store_routes import recommendations_answer, user_features_answer
from shopstream.stores.base import FeatureStore

__all__ = ["HOT_ROUTES", "HotPaths", "HotReads"]

Answer = Callable[[FeatureStore, str], tuple[int, bytes]]

#: ``(first segment, last segment) -> answer`` of the hot routes ``/{first}/{id}/{last}``.
HOT_ROUTES: dict[tuple[str, str], Answer] = {
    ("users", "features"): user_features_answer,
    ("sessions", "recommendations"): recommendations_answer,
    ("users", "profile"): profile_body,
}


class HotReads:
    """The answers of the hot routes over ``store``."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def answer(self, path: str) -> tuple[int, bytes] | None:
        """Status and body for ``path`` (decoded, without its query), ``None`` when it
        is not a hot route: ``/{users|sessions}/{id}/{...}`` with a non-empty id."""
        parts = path.split("/")
        if len(parts) != 4 or not parts[2] or parts[0]:
            return None
        route = HOT_ROUTES.get((parts[1], parts[3]))
        return None if route is None else route(self.store, parts[2])


class HotPaths:
    """ASGI: the hot ``GET`` routes answered by :class:`HotReads`, everything else by
    ``app``."""

    def __init__(self, app: Any, store: FeatureStore) -> None:
        self.app = app
        self.store = store
        self.reads = HotReads(store)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = self.reads.answer(scope["path"])
            if found is not None:
                status, body = found
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", b"%d" % len(body))]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
