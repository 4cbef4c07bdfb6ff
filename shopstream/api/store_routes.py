"""Reads of the store: a shopper's and a session's features, a session's
recommendations, related products, trending products and rules by antecedent.

Every route answers from the :class:`~shopstream.stores.base.FeatureStore` alone (keys
from :mod:`shopstream.stores.keys`), so any number of server processes can share one
store: 404 with a ``detail`` naming the key when nothing is stored, 503 when the store
cannot be read. The two calls a shop makes on every page are also answered before
FastAPI's routing (:class:`~shopstream.api.app.HotPaths`) by the same functions.

Examples
--------
>>> from shopstream.stores.embedded import temporary_store
>>> store = temporary_store({"recs:session:s1": {"items": ["p2"]}})
>>> recommendations_answer(store, "s1")
(200, b'{"sessionId":"s1","recommendations":{"items":["p2"]}}')
>>> user_features_answer(store, "u9")
(404, b'{"detail":"no features stored for user \\'u9\\'"}')
>>> [route.path for route in store_router(store).routes]  # doctest: +NORMALIZE_WHITESPACE
['/users/{user_id}/features', '/sessions/{session_id}/features',
 '/sessions/{session_id}/recommendations', '/products/{product_id}/related', '/trending',
 '/rules']
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.errors import require
from shopstream.operators.feature_catalog import SESSION, SESSION_FEATURES, USER, USER_FEATURES
from shopstream.stores.base import FeatureStore, StoreError
from shopstream.stores.keys import (
    FEATURE_GROUPS,
    TRENDING_KEY,
    features_key,
    recs_key,
    related_key,
    rules_key,
    session_key,
    user_key,
)
from shopstream.stores.open import redact_url
from shopstream.stores.raw import raw_many, raw_one

# FastAPI reads the handlers' annotations at runtime: its names must be module globals.
try:
    import fastapi
    from fastapi import Query
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "serve")
    raise

__all__ = ["recommendations_answer", "store_router", "stored_bytes", "stored_value", "unavailable",
           "user_features_answer"]

_encode = msgspec.json.Encoder().encode
#: ``"name":`` of every user feature, in catalog order, ready to splice.
_USER_FEATURE_NAMES = tuple(_encode(name) + b":" for name in USER_FEATURES)
#: The groups of a shopper's features, and each group's members all ``null``.
_USER_GROUPS = tuple(group for group, _ in FEATURE_GROUPS[USER])
_GROUP_NAMES = tuple(tuple(names) for _, names in FEATURE_GROUPS[USER])


def user_features_answer(store: FeatureStore, user_id: str) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /users/{user_id}/features``.

    One read of the shopper's 4 feature groups (``features:user:{id}:{group}``, see
    :data:`~shopstream.stores.keys.FEATURE_GROUPS`), each a JSON object of the group's
    features in catalog order, spliced into the answer as stored (no decode or encode:
    :mod:`shopstream.stores.raw`). A group not stored (a store written before the
    groups existed, or a shopper with only some groups written since) is read from its
    per-feature keys, so the answer is the same as a read feature by feature."""
    prefix = features_key(USER, user_id, "")
    try:
        groups = raw_many(store, [prefix + group for group in _USER_GROUPS])
        if all(group is None for group in groups):
            return _features_key_by_key(store, user_id)
        parts = [_group_key_by_key(store, user_id, names) if group is None else group[1:-1]
                 for group, names in zip(groups, _GROUP_NAMES, strict=True)]
    except StoreError as exc:
        return 503, _encode({"detail": unavailable(exc)})
    return 200, b"".join((b'{"userId":', _encode(user_id), b',"features":{',
                          b",".join(parts), b"}}"))


def _group_key_by_key(store: FeatureStore, user_id: str, names: tuple[str, ...]) -> bytes:
    """The ``"name":value`` members of one feature group from the per-feature keys
    ``user:{id}:{feature}`` (``null`` where none is stored)."""
    prefix = user_key(user_id, "")
    values = raw_many(store, [prefix + name for name in names])
    return b",".join([_encode(name) + b":" + (b"null" if value is None else value)
                      for name, value in zip(names, values, strict=True)])


def _features_key_by_key(store: FeatureStore, user_id: str) -> tuple[int, bytes]:
    """:func:`user_features_answer` from the per-feature keys ``user:{id}:{feature}``."""
    prefix = user_key(user_id, "")
    values = raw_many(store, [prefix + name for name in USER_FEATURES])
    if all(v is None for v in values):
        return 404, _encode({"detail": f"no features stored for user {user_id!r}"})
    return 200, b"".join((b'{"userId":', _encode(user_id), b',"features":{',
                          b",".join([name + (b"null" if value is None else value)
                                     for name, value in zip(_USER_FEATURE_NAMES, values,
                                                            strict=True)]),
                          b"}}"))


def recommendations_answer(store: FeatureStore, session_id: str) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /sessions/{session_id}/recommendations`` (the stored
    bytes spliced in as they are)."""
    key = recs_key(session_id)
    status, value = stored_bytes(store, key, f"no recommendations stored for session "
                                             f"{session_id!r} (key {key})")
    if status != 200:
        return status, value
    return 200, b"".join((b'{"sessionId":', _encode(session_id), b',"recommendations":',
                          value, b"}"))


def stored_bytes(store: FeatureStore, key: str, missing: str) -> tuple[int, bytes]:
    """``(200, the JSON bytes stored under key)`` (:mod:`shopstream.stores.raw`), else the
    status and JSON body of the error: 404 with ``missing`` as its ``detail``, 503 when
    the store fails (:func:`unavailable`).

    >>> from shopstream.stores.base import StoreEntry
    >>> from shopstream.stores.embedded import temporary_store
    >>> store = temporary_store()
    >>> stored_bytes(store, "k", "nothing under k")
    (404, b'{"detail":"nothing under k"}')
    >>> store.write_batch([StoreEntry("k", {"a": 1})])
    >>> stored_bytes(store, "k", "nothing under k")
    (200, b'{"a":1}')
    """
    try:
        value = raw_one(store, key)
    except StoreError as exc:
        return 503, _encode({"detail": unavailable(exc)})
    if value is None:
        return 404, _encode({"detail": missing})
    return 200, value


def stored_value(store: FeatureStore, key: str, missing: str) -> tuple[int, Any]:
    """``(200, the value stored under key)``, else ``(404, {"detail": missing})`` or,
    when the store fails, ``(503, {"detail": ...})`` (:func:`unavailable`).

    >>> from shopstream.stores.embedded import temporary_store
    >>> stored_value(temporary_store(), "k", "nothing under k")
    (404, {'detail': 'nothing under k'})
    """
    try:
        value = store.get(key)
    except StoreError as exc:
        return 503, {"detail": unavailable(exc)}
    if value is None:
        return 404, {"detail": missing}
    return 200, value


def unavailable(exc: Exception) -> str:
    """The ``detail`` of a 503 for a store error (the store URL's password redacted)."""
    return redact_url(f"store unavailable: {exc}")


def _response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def store_router(store: FeatureStore) -> Any:
    """The read routes over ``store``."""
    router = fastapi.APIRouter()
    _shopper_routes(router, store)
    _product_routes(router, store)
    return router


def _ok(body: dict[str, Any]) -> Response:
    return _response(200, _encode(body))


def _missing(detail: str) -> Response:
    return _response(404, _encode({"detail": detail}))


def _read(store: FeatureStore, keys: list[str]) -> list[Any]:
    """The values of ``keys`` (None where missing); 503 when the store fails."""
    try:
        return store.get_many(keys)
    except StoreError as exc:
        raise fastapi.HTTPException(503, unavailable(exc)) from None


def _shopper_routes(router: fastapi.APIRouter, store: FeatureStore) -> None:
    """Features of a shopper and of a session, and a session's recommendations."""
    @router.get("/users/{user_id}/features", summary="Live features of a shopper")
    async def user_features(user_id: str) -> Response:
        """Every catalog feature of ``user_id`` (rolling ``_5min`` / ``_1hr``, ``_24hr``
        history, context), ``null`` where the store has no value; 404 when it has none."""
        return _response(*user_features_answer(store, user_id))

    @router.get("/sessions/{session_id}/features", summary="Live metrics of a session")
    async def session_features(session_id: str) -> Response:
        group = _read(store, [features_key(SESSION, session_id, "session")])[0]
        values = ([group.get(name) for name in SESSION_FEATURES] if isinstance(group, dict)
                  else _read(store, [session_key(session_id, n) for n in SESSION_FEATURES]))
        if all(v is None for v in values):
            return _missing(f"no features stored for session {session_id!r}")
        return _ok({"sessionId": session_id,
                    "features": dict(zip(SESSION_FEATURES, values, strict=True))})

    @router.get("/sessions/{session_id}/recommendations",
                summary="Latest recommendations of a session")
    async def session_recommendations(session_id: str) -> Response:
        """What ``recs:session:{id}`` holds; 404 when nothing is stored."""
        return _response(*recommendations_answer(store, session_id))


def _product_routes(router: fastapi.APIRouter, store: FeatureStore) -> None:
    """Related products, trending products and rules by antecedent."""
    @router.get("/products/{product_id}/related", summary="Products related to a product")
    async def related(product_id: str) -> Response:
        value = _read(store, [related_key(product_id)])[0]
        if value is None:
            return _missing(f"no related products stored for product {product_id!r} "
                            f"(key {related_key(product_id)})")
        return _ok({"productId": product_id, "related": value})

    @router.get("/trending", summary="Trending products")
    async def trending() -> Response:
        value = _read(store, [TRENDING_KEY])[0]
        if value is None:
            return _missing(f"no trending products stored (key {TRENDING_KEY})")
        return _ok({"trending": value})

    @router.get("/rules", summary="Association rules by antecedent")
    async def rules(antecedent: str = Query(
            ..., description="product ids of the antecedent, comma separated")) -> Response:
        items = sorted({a.strip() for a in antecedent.split(",") if a.strip()})
        if not items:
            raise fastapi.HTTPException(400, "antecedent needs at least one product id")
        value = _read(store, [rules_key(items)])[0]
        if value is None:
            return _missing(f"no rules stored for antecedent {items} (key {rules_key(items)})")
        return _ok({"antecedent": items, "rules": value})
