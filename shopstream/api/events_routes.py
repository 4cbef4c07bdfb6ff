"""Events in and pushes out: ``POST /events`` and ``WS /ws``.

``POST /events`` takes one event (a JSON object) or a batch (a JSON array), validated
like input files, all or nothing (400 lists the reason of every invalid event), and hands
it to the pipeline this process hosts or, without one, to ``state.forward`` (``serve
--kafka``: the input topic). ``WS /ws`` subscribes a client to the features,
recommendations and alerts of a session or a user (:class:`~shopstream.api.push.PushHub`).

Examples
--------
>>> import asyncio
>>> from shopstream.api.push import PushHub
>>> handle(PushHub(), asyncio.Queue(), '{"subscribe": {"session": "s1"}}')
{'subscribed': {'session': 's1'}}
>>> handle(PushHub(), asyncio.Queue(), '{"subscribe": {"planet": "x"}}')
{'error': "subscribe to one of ['session', 'user'] with a non-empty id"}
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from shopstream.api.live import QueueFullError, RejectedEventsError, retry_after, validate_raw
from shopstream.api.push import KINDS, PushHub
from shopstream.errors import ShopstreamError, require
from shopstream.events.decode import EventDecoder
from shopstream.stores.open import redact_url

if TYPE_CHECKING:
    from shopstream.api.app import ServeState

# FastAPI reads the handlers' annotations at runtime: its names must be module globals.
try:
    import fastapi
    from fastapi import Request, WebSocket, WebSocketDisconnect
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "serve")
    raise

__all__ = ["MAX_BATCH", "events_router", "handle"]

#: Most events one ``POST /events`` may carry (more: 413).
MAX_BATCH = 10_000
_encode = msgspec.json.Encoder().encode
_decode_batch = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_one = msgspec.json.Decoder(msgspec.Raw).decode


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")


def events_router(state: ServeState) -> Any:
    """``POST /events`` and ``WS /ws`` over ``state``."""
    router = fastapi.APIRouter()
    # Without a hosted pipeline (serve --kafka) events are checked here, with the limits
    # the server was given, before they are produced.
    validator = EventDecoder(state.input_limits)

    @router.post("/events", status_code=202, summary="Send events into the pipeline")
    async def post_events(request: Request) -> Response:
        """One event (a JSON object) or a batch (a JSON array), validated like input
        files; all or nothing: 400 lists the reason of every invalid event."""
        if state.live is None and state.forward is None:
            raise fastapi.HTTPException(
                503, "this server hosts no pipeline: events are accepted by "
                     "`shopstream serve --workers 1` or, with any number of workers, "
                     "`shopstream serve --kafka BOOTSTRAP`")
        raws = _raw_events(await request.body())
        if isinstance(raws, Response):
            return raws
        return await _submit(state, validator, raws)

    @router.websocket("/ws")
    async def pushes(socket: WebSocket) -> None:
        """Send ``{"subscribe": {"session": ID}}`` or ``{"subscribe": {"user": ID}}``
        (``unsubscribe`` alike); features, recommendations and alerts about it follow."""
        await socket.accept()
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sender = asyncio.create_task(_forward(inbox, socket))
        try:
            while True:
                text = await socket.receive_text()
                await socket.send_json(handle(state.hub, inbox, text))
        except WebSocketDisconnect:
            pass
        finally:
            state.hub.drop(inbox)
            sender.cancel()

    return router



def _raw_events(body: bytes) -> list[bytes] | Response:
    """The events of a request body (an object or an array of at most
    :data:`MAX_BATCH`), or the 400 to answer when it is not JSON."""
    try:
        if body.lstrip()[:1] == b"[":
            raws = [bytes(r) for r in _decode_batch(body)]
        else:
            raws = [bytes(_decode_one(body))]
    except msgspec.DecodeError as exc:
        return _json(400, {"detail": f"body is not JSON: {exc}"})
    except RecursionError:
        return _json(400, {"detail": "body is JSON nested too deep"})
    if len(raws) > MAX_BATCH:
        raise fastapi.HTTPException(413, f"at most {MAX_BATCH} events per request")
    return raws


async def _submit(state: ServeState, validator: EventDecoder, raws: list[bytes]) -> Response:
    """Hand ``raws`` to the hosted pipeline, else to the Kafka forwarder: 202 with the
    count, 400 listing every invalid event, 503 when the pipeline or Kafka refuses."""
    try:
        if state.live is not None:
            accepted = await state.live.submit_async(raws)
        else:
            accepted = await run_in_threadpool(_forward_events, state.forward,
                                              validator, raws)
    except RejectedEventsError as exc:
        errors = [{"index": p.index, "stage": p.stage, "reason": p.reason}
                  for p in exc.problems]
        return _json(400, {"detail": str(exc), "errors": errors})
    except QueueFullError as exc:
        raise fastapi.HTTPException(503, str(exc), retry_after(exc)) from None
    except ShopstreamError as exc:
        raise fastapi.HTTPException(503, redact_url(str(exc))) from None
    return _json(202, {"accepted": accepted})


def _forward_events(forward: Any, validator: EventDecoder, raws: list[bytes]) -> int:
    """Validate ``raws`` all or none, like the hosted pipeline, then hand them on."""
    events, problems = validate_raw(validator, raws)
    if problems:
        raise RejectedEventsError(problems, len(raws))
    forward.accept(events)
    return len(events)


async def _forward(inbox: asyncio.Queue[dict[str, Any]], socket: Any) -> None:
    while True:
        await socket.send_json(await inbox.get())


def handle(hub: PushHub, inbox: asyncio.Queue[dict[str, Any]], text: str) -> dict[str, Any]:
    """Apply one client message of ``WS /ws``; the reply says what happened."""
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
