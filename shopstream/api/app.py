"""The FastAPI application: live features, recommendations and pushes over a store.

Read endpoints answer from the :class:`~shopstream.stores.base.FeatureStore` alone, so
any number of server processes can share one store; ``POST /events`` and ``WS /ws`` need
the pipeline this process hosts (:class:`~shopstream.api.live.LivePipeline`). Unknown ids
get 404 with a ``detail`` saying what was missing. API keys, CORS and body limits are
enforced in front of every route by :class:`~shopstream.api.security.Guard`; store URLs
and store errors are shown only through :func:`~shopstream.stores.open.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shopstream import __version__
from shopstream.api.collector import collector_router
from shopstream.api.data import data_router
from shopstream.api.jobs_routes import jobs_router
from shopstream.api.live import (
    LivePipeline,
    QueueFullError,
    RejectedEventsError,
    retry_after,
    validate_raw,
)
from shopstream.api.live_dashboard import dashboard_router
from shopstream.api.metrics import MetricsInput, render
from shopstream.api.privacy_routes import privacy_router
from shopstream.api.profiles_routes import profiles_router
from shopstream.api.push import KINDS, PushHub
from shopstream.api.reports_routes import reports_router
from shopstream.api.security import Guard, SecurityConfig
from shopstream.api.trends_routes import trends_router
from shopstream.errors import ShopstreamError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.operators.feature_catalog import SESSION_FEATURES, USER_FEATURES
from shopstream.stores.base import FeatureStore, StoreError, require
from shopstream.stores.keys import TRENDING_KEY, recs_key, related_key, rules_key
from shopstream.stores.open import redact_url

# FastAPI reads the handlers' annotations at runtime: its names must be module globals.
try:
    import fastapi
    from fastapi import Query, Request, WebSocket, WebSocketDisconnect
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import PlainTextResponse, Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["ServeState", "create_app"]

_MAX_BATCH = 10_000
_encode = msgspec.json.Encoder().encode
_decode_batch = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_one = msgspec.json.Decoder(msgspec.Raw).decode


@dataclass
class ServeState:
    """What the routes work with: the store, and the hosted pipeline if any."""

    store: FeatureStore
    live: LivePipeline | None = None
    hub: PushHub = field(default_factory=PushHub)
    started: float = field(default_factory=time.time)
    postgres: str | None = None  # the shop database behind /shop (shopstream.api.data)
    #: Where accepted events go when no pipeline is hosted (``serve --kafka``: the input
    #: topic), an object with ``accept(events)`` and ``dead_letter(letters)``.
    forward: Any = None
    #: API keys, CORS origins and body limit enforced in front of every route.
    security: SecurityConfig = field(default_factory=SecurityConfig)
    lake: str | None = None  # the Parquet lake behind /reports (shopstream.api.reports_routes)


def create_app(state: ServeState) -> Any:
    """Build the ASGI app serving ``state``: the FastAPI app behind the hot read paths,
    both behind the guard of ``state.security``."""
    if state.live is not None:
        state.live.listeners.append(state.hub.publish)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        state.hub.bind(asyncio.get_running_loop())
        yield

    app = fastapi.FastAPI(
        title="shopstream", version=__version__, lifespan=lifespan,
        description="Live shopper features, recommendations and pushes from the "
                    "shopstream pipeline's store.")

    app.include_router(data_router(state.postgres))
    app.include_router(dashboard_router(state))
    app.include_router(profiles_router(state))
    app.include_router(reports_router(state.lake))

    def ok(body: dict[str, Any]) -> Response:
        return Response(_encode(body), media_type="application/json")

    def missing(detail: str) -> Response:
        return Response(_encode({"detail": detail}), status_code=404,
                        media_type="application/json")

    def read(keys: list[str]) -> list[Any]:
        try:
            return state.store.get_many(keys)
        except StoreError as exc:
            raise fastapi.HTTPException(503, _unavailable(exc)) from None

    @app.get("/users/{user_id}/features", summary="Live features of a shopper")
    async def user_features(user_id: str) -> Response:
        """Every catalog feature of ``user_id`` (rolling ``_5min`` / ``_1hr``, ``_24hr``
        history, context), ``null`` where the store has no value; 404 when it has none."""
        return _as_response(*user_features_answer(state.store, user_id))

    @app.get("/sessions/{session_id}/features", summary="Live metrics of a session")
    async def session_features(session_id: str) -> Response:
        values = read([f"session:{session_id}:{name}" for name in SESSION_FEATURES])
        if all(v is None for v in values):
            return missing(f"no features stored for session {session_id!r}")
        return ok({"sessionId": session_id,
                   "features": dict(zip(SESSION_FEATURES, values, strict=True))})

    @app.get("/sessions/{session_id}/recommendations",
             summary="Latest recommendations of a session")
    async def session_recommendations(session_id: str) -> Response:
        """What ``recs:session:{id}`` holds; 404 when nothing is stored."""
        return _as_response(*recommendations_answer(state.store, session_id))

    @app.get("/products/{product_id}/related", summary="Products related to a product")
    async def related(product_id: str) -> Response:
        value = read([related_key(product_id)])[0]
        if value is None:
            return missing(f"no related products stored for product {product_id!r} "
                           f"(key {related_key(product_id)})")
        return ok({"productId": product_id, "related": value})

    @app.get("/trending", summary="Trending products")
    async def trending() -> Response:
        value = read([TRENDING_KEY])[0]
        if value is None:
            return missing(f"no trending products stored (key {TRENDING_KEY})")
        return ok({"trending": value})

    @app.get("/rules", summary="Association rules by antecedent")
    async def rules(antecedent: str = Query(
            ..., description="product ids of the antecedent, comma separated")) -> Response:
        items = sorted({a.strip() for a in antecedent.split(",") if a.strip()})
        if not items:
            raise fastapi.HTTPException(400, "antecedent needs at least one product id")
        value = read([rules_key(items)])[0]
        if value is None:
            return missing(f"no rules stored for antecedent {items} (key {rules_key(items)})")
        return ok({"antecedent": items, "rules": value})

    @app.get("/health", summary="Liveness and store reachability")
    async def health() -> Response:
        reachable = state.store.ping()
        live = state.live
        body: dict[str, Any] = {
            "status": "ok" if reachable else "store unreachable",
            "store": redact_url(state.store.url),
            "uptimeSeconds": round(time.time() - state.started, 1),
            "storeWrites": {"errors": state.store.stats.errors,
                            "retries": state.store.stats.retries,
                            "waiting": state.store.stats.waiting},
            "pipeline": None if live is None else {
                "eventsProcessed": live.processed,
                "waiting": live.waiting,
                "watermark": max(live.engine.watermark_ms, -1),
                "errors": live.errors,
                "lastError": redact_url(live.last_error) if live.last_error else None,
            } | live.status(),
        }
        return Response(_encode(body), status_code=200 if reachable else 503,
                        media_type="application/json")

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        live = state.live
        lag = None
        if live is not None and live.engine.max_timestamp_ms > 0:
            lag = time.time() - live.engine.max_timestamp_ms / 1000
        data = MetricsInput(
            events=live.processed if live else 0,
            dead_letters=live.rejected if live else 0,
            late_events=live.engine.late_events if live else 0,
            lag_s=lag, store_stats=state.store.stats,
            waiting=live.waiting if live else 0,
            pipeline_errors=live.errors if live else 0,
            pushes=state.hub.pushed, subscriptions=state.hub.subscriptions,
            outputs=dict(live.engine.output_counts) if live else {},
            watermark_lag_s=(time.time() - live.engine.watermark_ms / 1000
                             if live is not None and live.engine.watermark_ms > 0 else None))
        text = render(data) + (live.metrics_text() if live else "")
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.post("/events", status_code=202, summary="Send events into the pipeline")
    async def post_events(request: Request) -> Response:
        """One event (a JSON object) or a batch (a JSON array), validated like input
        files; all or nothing: 400 lists the reason of every invalid event."""
        if state.live is None and state.forward is None:
            raise fastapi.HTTPException(
                503, "this server hosts no pipeline: events are accepted by "
                     "`shopstream serve --workers 1` or, with any number of workers, "
                     "`shopstream serve --kafka BOOTSTRAP`")
        body = await request.body()
        try:
            if body.lstrip()[:1] == b"[":
                raws = [bytes(r) for r in _decode_batch(body)]
            else:
                raws = [bytes(_decode_one(body))]
        except msgspec.DecodeError as exc:
            return Response(_encode({"detail": f"body is not JSON: {exc}"}), status_code=400,
                            media_type="application/json")
        except RecursionError:
            return Response(_encode({"detail": "body is JSON nested too deep"}),
                            status_code=400, media_type="application/json")
        if len(raws) > _MAX_BATCH:
            raise fastapi.HTTPException(413, f"at most {_MAX_BATCH} events per request")
        try:
            if state.live is not None:
                accepted = await state.live.submit_async(raws)
            else:
                accepted = await run_in_threadpool(_forward_events, state.forward, raws)
        except RejectedEventsError as exc:
            errors = [{"index": p.index, "stage": p.stage, "reason": p.reason}
                      for p in exc.problems]
            return Response(_encode({"detail": str(exc), "errors": errors}), status_code=400,
                            media_type="application/json")
        except QueueFullError as exc:
            raise fastapi.HTTPException(503, str(exc), retry_after(exc)) from None
        except ShopstreamError as exc:
            raise fastapi.HTTPException(503, redact_url(str(exc))) from None
        return Response(_encode({"accepted": accepted}), status_code=202,
                        media_type="application/json")

    @app.websocket("/ws")
    async def pushes(socket: WebSocket) -> None:
        """Send ``{"subscribe": {"session": ID}}`` or ``{"subscribe": {"user": ID}}``
        (``unsubscribe`` alike); features, recommendations and alerts about it follow."""
        await socket.accept()
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sender = asyncio.create_task(_forward(inbox, socket))
        try:
            while True:
                text = await socket.receive_text()
                await socket.send_json(_handle(state.hub, inbox, text))
        except WebSocketDisconnect:
            pass
        finally:
            state.hub.drop(inbox)
            sender.cancel()

    app.include_router(collector_router(state))
    app.include_router(privacy_router(state))
    app.include_router(jobs_router(state.store.url))
    app.include_router(trends_router(state))
    return Guard(HotPaths(app, state.store), state.security)


_VALIDATOR = EventDecoder(InputLimits(min_timestamp_ms=YEAR_2000_MS))


def _forward_events(forward: Any, raws: list[bytes]) -> int:
    """Validate ``raws`` all or none, like the hosted pipeline, then hand them on."""
    events, problems = validate_raw(_VALIDATOR, raws)
    if problems:
        raise RejectedEventsError(problems, len(raws))
    forward.accept(events)
    return len(events)


def user_features_answer(store: FeatureStore, user_id: str) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /users/{user_id}/features``."""
    try:
        values = store.get_many([f"user:{user_id}:{name}" for name in USER_FEATURES])
    except StoreError as exc:
        return 503, _encode({"detail": _unavailable(exc)})
    if all(v is None for v in values):
        return 404, _encode({"detail": f"no features stored for user {user_id!r}"})
    return 200, _encode({"userId": user_id,
                         "features": dict(zip(USER_FEATURES, values, strict=True))})


def recommendations_answer(store: FeatureStore, session_id: str) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /sessions/{session_id}/recommendations``."""
    key = recs_key(session_id)
    try:
        value = store.get(key)
    except StoreError as exc:
        return 503, _encode({"detail": _unavailable(exc)})
    if value is None:
        return 404, _encode({"detail": f"no recommendations stored for session "
                                       f"{session_id!r} (key {key})"})
    return 200, _encode({"sessionId": session_id, "recommendations": value})


def _unavailable(exc: Exception) -> str:
    return redact_url(f"store unavailable: {exc}")


def _as_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


class HotPaths:
    """The two endpoints a shop calls on every page, answered before FastAPI's routing.

    Same answers as the FastAPI routes (which stay for the docs and for HEAD, errors,
    etc.); skipping routing, validation and response classes halves the cost of a request.
    Everything else goes to ``app``.
    """

    def __init__(self, app: Any, store: FeatureStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            parts = scope["path"].split("/")
            if len(parts) == 4 and parts[2]:
                if parts[1] == "users" and parts[3] == "features":
                    await _send(send, *user_features_answer(self.store, parts[2]))
                    return
                if parts[1] == "sessions" and parts[3] == "recommendations":
                    await _send(send, *recommendations_answer(self.store, parts[2]))
                    return
        await self.app(scope, receive, send)


async def _send(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def _forward(inbox: asyncio.Queue[dict[str, Any]], socket: Any) -> None:
    while True:
        await socket.send_json(await inbox.get())


def _handle(hub: PushHub, inbox: asyncio.Queue[dict[str, Any]], text: str) -> dict[str, Any]:
    """Apply one client message; the reply says what happened."""
    try:
        request = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return {"error": "send JSON, e.g. {\"subscribe\": {\"session\": \"s1\"}}"}
    if not isinstance(request, dict) or len(request) != 1:
        return {"error": "send one of subscribe / unsubscribe"}
    (action, target), = request.items()
    if action not in ("subscribe", "unsubscribe") or not isinstance(target, dict) or len(
            target) != 1:
        return {"error": "send {\"subscribe\": {\"session\"|\"user\": ID}}"}
    (kind, ident), = target.items()
    if kind not in KINDS or not isinstance(ident, str) or not ident:
        return {"error": f"subscribe to one of {list(KINDS)} with a non-empty id"}
    if action == "subscribe":
        hub.subscribe(kind, ident, inbox)
        return {"subscribed": {kind: ident}}
    hub.unsubscribe(kind, ident, inbox)
    return {"unsubscribed": {kind: ident}}

