"""The HTTP collector: Snowplow trackers (and plain HTTP clients) send events here.

Routes (an ``APIRouter``; ``shopstream serve`` includes it, ``shopstream collect`` serves
it alone with its own ``POST /events``):

- ``POST /com.snowplowanalytics.snowplow/tp2``: a ``payload_data`` batch. Mapped events
  are accepted; the others go to dead-letter and the answer lists them (``rejected``:
  index, eventId, reason). 200 when anything was accepted, 400 when nothing could be.
- ``GET /i``: one event in the query string; a 1x1 GIF when accepted, 400 with the
  reason when not.
- ``POST /events`` (``collect`` only; ``serve`` has its own): canonical events, all or
  nothing as in ``serve``.
- ``GET /collector/stats``: counts and the latest dead letters (the rejected payloads
  only to callers with an API key when keys are configured).

Keys, CORS grants and body limits are the :class:`~shopstream.api.security.Guard`'s, in
front of these routes; a key may come as ``?api_key=`` on ``GET /i`` (a pixel cannot
send headers), and is never kept with the payload.

Accepted events go to every target: the pipeline this process hosts and/or the Kafka
input topic. The mapping itself lives in :mod:`shopstream.connectors.snowplow`.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from shopstream.api.errors import NoTargetError, QueueFullError, retry_after
from shopstream.api.live import LivePipeline
from shopstream.api.live_config import SERVICE_LIMITS
from shopstream.api.security import Guard, KeyRing, SecurityConfig, request_allowed
from shopstream.connectors.snowplow import SnowplowRejection, map_payload, payloads_from_post
from shopstream.errors import DecodeError, ShopstreamError, require
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits, check_event, format_ms
from shopstream.events.model import ShopperEvent
from shopstream.events.records import DeadLetter
from shopstream.stores.open import redact_url

try:
    import fastapi
    from fastapi import Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["Collector", "EventTarget", "LiveTarget", "collector_app", "collector_router"]

TP2_PATH = "/com.snowplowanalytics.snowplow/tp2"
_MAX_BATCH = 10_000
_encode = msgspec.json.Encoder().encode
_decode_batch = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_one = msgspec.json.Decoder(msgspec.Raw).decode
# The smallest transparent GIF, what a pixel collector answers.
_PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
          b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


class EventTarget(Protocol):
    """Where accepted events go. ``accept`` raises a :class:`ShopstreamError` when it
    cannot take them now (the collector answers 503 and the tracker retries)."""

    def accept(self, events: Sequence[ShopperEvent]) -> None: ...
    def dead_letter(self, letters: Sequence[DeadLetter]) -> None: ...
    def close(self) -> None: ...


class LiveTarget:
    """The pipeline this process hosts (``serve``, ``collect --store``)."""

    def __init__(self, live: LivePipeline) -> None:
        self.live = live

    def accept(self, events: Sequence[ShopperEvent]) -> None:
        """Enqueue, and wait until the events are durable (in a worker thread)."""
        self.live.enqueue(list(events)).result()

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """The hosted pipeline has no dead-letter file: they count in its ``rejected``
        (``shopstream_dead_letters_total`` in ``/metrics``) and the collector keeps the
        latest 100 (``GET /collector/stats``)."""
        self.live.count_rejected(len(letters))

    def close(self) -> None:
        self.live.stop()


@dataclass
class Collector:
    """The targets of accepted events, and what the collector counted."""

    targets: list[EventTarget] = field(default_factory=list)
    accepted: int = 0
    #: What one event may contain (``collect --max-*``), Snowplow or canonical.
    limits: InputLimits = SERVICE_LIMITS
    rejected: int = 0
    recent: collections.deque[DeadLetter] = field(
        default_factory=lambda: collections.deque(maxlen=100))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, events: Sequence[ShopperEvent], letters: Sequence[DeadLetter]) -> None:
        """Hand events and dead letters to every target (blocking: call in a thread)."""
        if not self.targets and events:
            msg = "this server forwards events nowhere: it hosts no pipeline and has no Kafka"
            raise NoTargetError(msg)
        for target in self.targets:
            if letters:
                target.dead_letter(letters)
            if events:
                target.accept(events)
        with self._lock:
            self.accepted += len(events)
            self.rejected += len(letters)
            self.recent.extend(letters)

    def close(self) -> None:
        for target in self.targets:
            target.close()


_Deliver = Callable[[list[ShopperEvent], list[DeadLetter]], Awaitable[Response | None]]


def collector_router(state: Any, canonical: bool = False,
                     security: SecurityConfig | None = None) -> Any:
    """The collector's routes over ``state``: a :class:`Collector`, or a ``serve`` state
    whose hosted pipeline (``state.live``) takes the events. ``security`` (default: the
    state's) decides who sees rejected payloads in ``/collector/stats``."""
    if security is None:
        security = getattr(state, "security", None) or SecurityConfig()
    collector = _collector_of(state)
    limits = _limits_of(state, collector)
    decoder = EventDecoder(limits)
    deliver = _deliverer(collector)
    router = fastapi.APIRouter(tags=["collector"])
    _add_snowplow_routes(router, deliver, decoder, limits)
    _add_stats_route(router, collector, KeyRing(security.api_keys))
    if canonical:
        _add_events_route(router, deliver, decoder)
    return router


def _collector_of(state: Any) -> Collector:
    """``state`` itself, or a collector over a ``serve`` state's hosted pipeline (else
    its Kafka forwarder)."""
    if isinstance(state, Collector):
        return state
    live = getattr(state, "live", None)
    forward = getattr(state, "forward", None)
    return Collector([LiveTarget(live)] if live is not None
                     else [forward] if forward is not None else [])


def _limits_of(state: Any, collector: Collector) -> InputLimits:
    """The limits of this server's doors: the hosted pipeline's, else the state's (serve
    --kafka forwards events checked with them)."""
    if isinstance(state, Collector):
        return collector.limits
    live_config = getattr(getattr(state, "live", None), "config", None)
    limits: InputLimits = (getattr(live_config, "input_limits", None)
                           or getattr(state, "input_limits", None) or collector.limits)
    return limits


def _deliverer(collector: Collector) -> _Deliver:
    """Hand events and dead letters to ``collector`` off the event loop; the answer to
    send instead when a target refuses them (503), else None."""
    async def deliver(events: list[ShopperEvent], letters: list[DeadLetter]) -> Response | None:
        try:
            await run_in_threadpool(collector.deliver, events, letters)
        except QueueFullError as exc:
            return Response(_encode({"detail": str(exc)}), 503, retry_after(exc),
                            media_type="application/json")
        except (NoTargetError, ShopstreamError) as exc:
            return _json({"detail": redact_url(str(exc))}, 503)
        return None
    return deliver


def _add_snowplow_routes(router: fastapi.APIRouter, deliver: _Deliver, decoder: EventDecoder,
                         limits: InputLimits) -> None:
    """``POST`` :data:`TP2_PATH` and ``GET /i``, the Snowplow tracker protocol."""
    @router.post(TP2_PATH, summary="Snowplow tracker protocol: a batch of events")
    async def tp2(request: Request) -> Response:
        """A ``payload_data`` envelope; unmapped events go to dead-letter and are listed."""
        try:
            payloads = payloads_from_post(await request.body())
        except SnowplowRejection as exc:
            # The body itself is the dead letter (base64 when it is not UTF-8).
            failure = await deliver([], [DeadLetter.of_bytes(
                "snowplow", str(exc), decoder.redact(await request.body()),
                "collector:tp2", -1)])
            return failure or _json({"detail": str(exc)}, 400)
        if len(payloads) > _MAX_BATCH:
            return _json({"detail": f"at most {_MAX_BATCH} events per request"}, 413)
        events, letters, rejected = _map_all(payloads, "collector:tp2", decoder.pseudonymiser,
                                             limits)
        failure = await deliver(events, letters)
        if failure is not None:
            return failure
        status = 400 if payloads and not events else 200
        return _json({"accepted": len(events), "rejected": rejected}, status)

    @router.get("/i", summary="Snowplow tracker protocol: one event in the query string")
    async def pixel(request: Request) -> Response:
        """A 1x1 GIF when the event was accepted, 400 with the reason when not."""
        payload = dict(request.query_params)
        payload.pop("api_key", None)  # the caller's credential, not part of the event
        events, letters, rejected = _map_all([payload], "collector:i", decoder.pseudonymiser,
                                             limits)
        failure = await deliver(events, letters)
        if failure is not None:
            return failure
        if rejected:
            return _json({"accepted": 0, "rejected": rejected}, 400)
        return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


def _add_stats_route(router: fastapi.APIRouter, collector: Collector, keys: KeyRing) -> None:
    """``GET /collector/stats``."""
    @router.get("/collector/stats", summary="What the collector accepted and rejected")
    async def stats(request: Request) -> Response:
        """Counts, and the latest dead letters; with API keys configured, the rejected
        payloads (which may hold anyone's data) only for a caller sending a key."""
        body: dict[str, Any] = {"accepted": collector.accepted,
                                "rejected": collector.rejected}
        if request_allowed(keys, request.scope):
            body["recentDeadLetters"] = [msgspec.to_builtins(letter)
                                         for letter in collector.recent]
        else:
            body["recentDeadLetters"] = None
            body["note"] = "send an API key to see the rejected payloads"
        return _json(body, 200)


def _add_events_route(router: fastapi.APIRouter, deliver: _Deliver, decoder: EventDecoder) -> None:
    """``POST /events``, canonical events (``collect`` only)."""
    @router.post("/events", status_code=202, summary="Send canonical events")
    async def post_events(request: Request) -> Response:
        """One event (a JSON object) or a batch (a JSON array), validated like input
        files; all or nothing: 400 lists the reason of every invalid event."""
        body = await request.body()
        try:
            raws = ([bytes(r) for r in _decode_batch(body)]
                    if body.lstrip()[:1] == b"[" else [bytes(_decode_one(body))])
        except (msgspec.DecodeError, RecursionError) as exc:
            detail = str(exc) if isinstance(exc, msgspec.DecodeError) else "nested too deep"
            failure = await deliver([], [DeadLetter.of_bytes(
                "decode", f"body is not JSON: {detail}", decoder.redact(body),
                "collector:events", -1)])
            return failure or _json({"detail": f"body is not JSON: {detail}"}, 400)
        if len(raws) > _MAX_BATCH:
            return _json({"detail": f"at most {_MAX_BATCH} events per request"}, 413)
        events, letters, errors = _decode_all(decoder, raws)
        if letters:
            failure = await deliver([], letters)
            if failure is not None:
                return failure
            return _json({"detail": f"{len(letters)} of {len(raws)} events are invalid; "
                                    "none was accepted", "errors": errors}, 400)
        failure = await deliver(events, [])
        return failure or _json({"accepted": len(events)}, 202)


def collector_app(collector: Collector, security: SecurityConfig | None = None) -> Any:
    """An ASGI app serving only the collector (``shopstream collect``), behind the guard
    of ``security`` (default: no keys, no CORS grant)."""
    from shopstream import __version__

    security = security or SecurityConfig()
    app = fastapi.FastAPI(title="shopstream collector", version=__version__,
                          description="Snowplow tracker protocol and canonical events in.")
    app.include_router(collector_router(collector, canonical=True, security=security))

    @app.get("/health", summary="Liveness")
    async def health() -> Response:
        return _json({"status": "ok", "targets": len(collector.targets)}, 200)

    return Guard(app, security)


def _map_all(payloads: Sequence[Mapping[str, str]], origin: str, pseudonymiser: Any = None,
             limits: InputLimits | None = None,
             ) -> tuple[list[ShopperEvent], list[DeadLetter], list[dict[str, Any]]]:
    # With a pseudonymisation key, user ids are replaced here as the decoder does for
    # JSON events, and a dead letter keeps the payload with its user ids redacted.
    events: list[ShopperEvent] = []
    letters: list[DeadLetter] = []
    rejected: list[dict[str, Any]] = []
    now_ms = int(time.time() * 1000)
    for index, payload in enumerate(payloads):
        try:
            event = map_payload(payload)
            if event.timestamp_ms < YEAR_2000_MS:  # the floor of every door of the service
                msg = (f"timestamp {event.timestamp_ms} ({format_ms(event.timestamp_ms)}) is "
                       f"before {format_ms(YEAR_2000_MS)}")
                raise SnowplowRejection(msg)
            if limits is not None:  # ids, items, numbers and the ingest clock, as for JSON
                check_event(event, limits, now_ms)
            events.append(event if pseudonymiser is None else pseudonymiser.apply(event))
        except Exception as exc:  # any failure is a dead letter with its reason, not a 500
            known = isinstance(exc, DecodeError)  # SnowplowRejection or a limit
            reason = str(exc) if known else f"unusable payload ({type(exc).__name__}: {exc})"
            stage = exc.stage if isinstance(exc, DecodeError) else "snowplow"
            kept = dict(payload) if pseudonymiser is None else pseudonymiser.redact_payload(
                payload)
            letters.append(DeadLetter(stage, reason, _encode(kept).decode(),
                                      origin, index))
            rejected.append({"index": index, "eventId": payload.get("eid"), "reason": reason})
    return events, letters, rejected


def _decode_all(decoder: EventDecoder, raws: Sequence[bytes],
                ) -> tuple[list[ShopperEvent], list[DeadLetter], list[dict[str, Any]]]:
    events: list[ShopperEvent] = []
    letters: list[DeadLetter] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        try:
            events.append(decoder.decode(raw))
        except DecodeError as exc:
            letters.append(DeadLetter.of_bytes(exc.stage, str(exc), decoder.redact(raw),
                                               "collector:events",
                                               index))
            errors.append({"index": index, "stage": exc.stage, "reason": str(exc)})
    return events, letters, errors


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")
