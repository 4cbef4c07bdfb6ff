"""``DELETE /users/{user_id}``: erase a shopper from a running service.

The route removes the shopper (their id and, with a pseudonymisation key, its pseudonym)
from the pipeline this process hosts, the store and the jobs' model versions beside a
SQLite store, and appends the record of what
was removed to the erasure log (``serve --erasure-log``, default beside a SQLite store); the
answer is that record (it never holds the raw id). It is a write: with API keys
configured it needs one (401 otherwise, from the :class:`~shopstream.api.security.Guard`),
and a server without keys refuses erasures altogether (403) rather than let anyone
erase anyone.

The hosted pipeline is scrubbed on its own thread: the route hands
:func:`~shopstream.privacy.erasure.scrub_engine` to the engine with
:meth:`Engine.call_soon <shopstream.runners.embedded.engine.Engine.call_soon>`, which runs
it before the engine's next step (the pipeline steps at least every ``idle_ms``), then
flushes the store writer so no value of the shopper is written after the store's
erasure (and drops their values from the writer's mirror of a Redis store, which it
would rewrite after an outage), and, when ``serve`` checkpoints (``--checkpoint-dir``),
checkpoints at once so that a restart resumes from the scrubbed state and replays the
write-ahead log only from there. Events of the shopper accepted before the request but
still queued are processed after it: send the erasure once their events have stopped.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import msgspec

from shopstream.errors import ShopstreamError, require
from shopstream.events.pseudonym import from_environment
from shopstream.privacy.erasure import (
    ERASURE_LOG_ENV,
    ErasableStore,
    ErasureError,
    ErasureLog,
    erase_user,
    erasure_log_beside,
    matching_keys,
    models_beside,
    scrub_engine,
)
from shopstream.privacy.scrub import ScrubResult

try:
    import fastapi
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["privacy_router"]

_encode = msgspec.json.Encoder().encode
#: How long the route waits for the pipeline thread to take the erasure.
LIVE_TIMEOUT_S = 30.0
_NO_EVENT_MS = -(2**63)


def _forget_mirrored(tap: Any, names: frozenset[str], ids: frozenset[str]) -> None:
    """Drop the shopper's values from the store writer's mirror (kept for a Redis store
    to rewrite after an outage), so a restarted store does not get them back."""
    mirror = getattr(tap, "mirror", None)
    if mirror is None:
        return
    mentions = [json.dumps(one).encode() for one in sorted(ids)]
    pairs = ((entry.key, entry.value) for entry in mirror.entries(time.time()))
    mirror.forget(matching_keys(pairs, sorted(names), mentions))


def _scrub_live(live: Any, ids: frozenset[str]) -> ScrubResult:
    """Scrub ``live``'s engine on its own thread and flush its store writer."""
    done: Future[ScrubResult] = Future()

    def task(engine: Any) -> None:
        try:
            result = scrub_engine(engine, ids)
            if live.tap is not None:
                live.tap.flush()
                _forget_mirrored(live.tap, ids | frozenset(result.sessions), ids)
            # With serve checkpoints, the checkpoint (and the log position a restart
            # replays from) moves past the shopper's events now.
            checkpoint_now = getattr(live, "checkpoint_now", None)
            if checkpoint_now is not None:
                checkpoint_now()
            done.set_result(result)
        except Exception as exc:  # reported to the caller, never kills the pipeline
            done.set_exception(exc)

    engine = live.engine
    engine.call_soon(task)
    try:
        return done.result(timeout=LIVE_TIMEOUT_S)
    except FutureTimeout:
        if engine.max_timestamp_ms == _NO_EVENT_MS:
            # The engine never took an event: it holds nobody's state (the task stays
            # queued and runs harmlessly at its first step).
            return ScrubResult(snapshot={})
        msg = f"the pipeline did not take the erasure within {LIVE_TIMEOUT_S:g} s"
        raise ErasureError(msg) from None
    except ShopstreamError:
        raise
    except Exception as exc:
        msg = f"the pipeline could not erase ({type(exc).__name__}: {exc})"
        raise ErasureError(msg) from None


def _erase(state: Any, user_id: str) -> tuple[int, dict[str, Any]]:
    pseudonymiser = from_environment()
    log = ErasureLog(os.environ.get(ERASURE_LOG_ENV) or erasure_log_beside(state.store.url))
    live = state.live
    store = state.store if isinstance(state.store, ErasableStore) else None
    try:
        report = erase_user(
            user_id, store=store, pseudonymiser=pseudonymiser, log=log, requested_by="api",
            models=models_beside(state.store.url),
            live=None if live is None else (lambda ids: _scrub_live(live, ids)))
    except ErasureError as exc:
        return 503, {"detail": str(exc)}
    except ShopstreamError as exc:
        return 400, {"detail": str(exc)}
    record = report.record()
    if store is None:
        record["errors"] = [f"the store {state.store.url!r} cannot erase entries"]
        return 501, record
    return 200, record


def privacy_router(state: Any) -> fastapi.APIRouter:
    """The erasure route over a ``serve`` state (its ``store``, ``live`` and ``security``)."""
    router = fastapi.APIRouter(tags=["privacy"])

    @router.delete("/users/{user_id}", summary="Erase a shopper (needs an API key)")
    async def erase(user_id: str) -> Response:
        """Remove the shopper from the hosted pipeline's state and from the store, and
        record it in the erasure log; the answer is the record."""
        security = getattr(state, "security", None)
        if security is None or not security.api_keys:
            body = {"detail": "erasure needs API keys on this server (--api-key-file or "
                              "SHOPSTREAM_API_KEYS), or use `shopstream erase`"}
            return Response(_encode(body), status_code=403, media_type="application/json")
        status, body = await run_in_threadpool(_erase, state, user_id)
        return Response(_encode(body), status_code=status, media_type="application/json")

    return router
