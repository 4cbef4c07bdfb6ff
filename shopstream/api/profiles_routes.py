"""Customer 360 over the store: ``GET /users/{id}/profile`` and ``GET /segments``.

Both answer from the store alone (keys of :mod:`shopstream.stores.keys`), so any number
of server processes can serve them; they sit behind the same guard as every read
(``read_keys`` makes them need an API key).

* ``GET /users/{id}/profile``: the latest profile the ``customer-profiles`` operator
  wrote: segment, engagement, session metrics, preferences, orders, cart, lifetime
  (P(alive), churn risk, CLV when models are configured) and next best actions; 404 when
  none is stored.
* ``GET /segments``: shoppers per segment summed over the key groups, their shares, the
  counts about one day earlier and the change since (``null`` until every group with
  counts has a day of history); 404 before any count is stored.

Examples
--------
>>> from shopstream.stores.base import StoreEntry
>>> from shopstream.stores.embedded import temporary_store
>>> store = temporary_store()
>>> store.write_batch([StoreEntry("segments:groups", 2), StoreEntry("segments:group:g0",
...     {"group": "g0", "computedAt": 5, "counts": {"buyer": 2}, "dayAgo": {"buyer": 1}}),
...     StoreEntry("segments:group:g1", {"group": "g1", "computedAt": 9,
...     "counts": {"browser": 2}, "dayAgo": {"browser": 3}})])
>>> status, body = segments_answer(store)
>>> status, body["total"], body["counts"]["buyer"], body["change"]["browser"]
(200, 4, 2, -1)
>>> profile_answer(store, "nobody")[0]
404
>>> store.write_batch([StoreEntry("profile:user:u1", {"userId": "u1", "segment": "buyer"})])
>>> profile_body(store, "u1")
(200, b'{"userId":"u1","segment":"buyer"}')
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.api.store_routes import stored_bytes, stored_value, unavailable
from shopstream.errors import require
from shopstream.profiles.behaviour import BEHAVIOUR_SEGMENTS
from shopstream.stores.base import FeatureStore, StoreError
from shopstream.stores.keys import SEGMENT_GROUPS_KEY, profile_key, segment_group_key

try:
    import fastapi
    from fastapi import Request
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["profile_answer", "profile_body", "profiles_router", "segments_answer"]

_encode = msgspec.json.Encoder().encode
#: More groups than this in the store is not something the pipeline writes.
_MAX_GROUPS = 4_096


def profile_answer(store: FeatureStore, user_id: str) -> tuple[int, dict[str, Any]]:
    """Status and body of ``GET /users/{user_id}/profile``."""
    key = profile_key(user_id)
    status, value = stored_value(store, key, f"no profile stored for user {user_id!r} "
                                             f"(key {key})")
    if status != 200 or isinstance(value, dict):
        return status, value
    return 200, {"userId": user_id, "profile": value}


def profile_body(store: FeatureStore, user_id: str) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /users/{user_id}/profile``, as
    :func:`profile_answer` gives them encoded, with the stored profile's bytes passed on
    as they are (no decode or encode: :mod:`shopstream.stores.raw`)."""
    key = profile_key(user_id)
    status, value = stored_bytes(store, key, f"no profile stored for user {user_id!r} "
                                             f"(key {key})")
    if status != 200 or value[:1] == b"{":
        return status, value
    return 200, b"".join((b'{"userId":', _encode(user_id), b',"profile":', value, b"}"))


def segments_answer(store: FeatureStore) -> tuple[int, dict[str, Any]]:
    """Status and body of ``GET /segments`` (see module docs)."""
    try:
        groups = store.get(SEGMENT_GROUPS_KEY)
        if not isinstance(groups, int) or not 0 < groups <= _MAX_GROUPS:
            return 404, {"detail": f"no segment counts stored (key {SEGMENT_GROUPS_KEY})"}
        values = store.get_many([segment_group_key(f"g{i}") for i in range(groups)])
    except StoreError as exc:
        return 503, {"detail": unavailable(exc)}
    counts: dict[str, int] = dict.fromkeys(BEHAVIOUR_SEGMENTS, 0)
    before: dict[str, int] | None = dict.fromkeys(BEHAVIOUR_SEGMENTS, 0)
    computed_at = None
    for value in values:
        if not isinstance(value, dict):
            continue
        _add(counts, value.get("counts"))
        at = value.get("computedAt")
        if isinstance(at, int):
            computed_at = at if computed_at is None else max(computed_at, at)
        day_ago = value.get("dayAgo")
        if before is not None and isinstance(day_ago, dict):
            _add(before, day_ago)
        else:
            before = None
    total = sum(counts.values())
    shares = {k: round(v / total, 4) if total else 0.0 for k, v in counts.items()}
    change = None if before is None else {k: counts[k] - before.get(k, 0) for k in counts}
    return 200, {"computedAt": computed_at, "total": total, "counts": counts,
                 "shares": shares, "dayAgo": before, "change": change}


def profiles_router(state: Any) -> Any:
    """The two routes over ``state.store`` (a :class:`~shopstream.api.app.ServeState`).

    The profile lookup is answered by a plain Starlette route registered first (no
    parameter validation or response model: about half the cost of a FastAPI route);
    the FastAPI route after it gives the same answer and stays for the OpenAPI docs.
    """
    router = fastapi.APIRouter(tags=["profiles"])

    async def fast_profile(request: Request) -> Response:
        return _bytes_response(*profile_body(state.store, request.path_params["user_id"]))

    router.add_route("/users/{user_id}/profile", fast_profile, methods=["GET"],
                     include_in_schema=False)

    @router.get("/users/{user_id}/profile", summary="Customer 360 profile of a shopper")
    async def user_profile(user_id: str) -> Response:
        """Segment, engagement, sessions, preferences, lifetime value and churn risk (when
        known) and the next best actions of ``user_id``; 404 when none is stored."""
        return _bytes_response(*profile_body(state.store, user_id))

    @router.get("/segments", summary="Shoppers per behavioural segment")
    async def segments() -> Response:
        """Counts and shares per segment, and their change over the last day."""
        return _response(*segments_answer(state.store))

    return router


def _add(into: dict[str, int], counts: object) -> None:
    if isinstance(counts, dict):
        for name, n in counts.items():
            if isinstance(n, int):
                into[name] = into.get(name, 0) + n


def _response(status: int, body: dict[str, Any]) -> Response:
    return _bytes_response(status, _encode(body))


def _bytes_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")
