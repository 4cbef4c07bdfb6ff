"""Watching a server: ``GET /health`` (JSON) and ``GET /metrics`` (Prometheus text).

``/health`` answers 200 while the store is reachable, 503 when it is not, when the
hosted pipeline stopped because an operator raised (``status``: ``pipeline failed``,
``pipeline.failure`` names the operator and the error) or when read workers kept dying
(``read workers failed``; ``readWorkers`` shows them: see
:mod:`shopstream.api.read_workers`), with the process's ``role`` and the
store's write errors and retries and, when this process hosts the pipeline, its
progress, errors and ingest numbers (:meth:`~shopstream.api.live.LivePipeline.status`;
``eventsProcessed`` counts events the operators processed, ``eventsBuffered`` those the
engine still holds for the watermark).
``/metrics`` renders the same numbers and the pipeline's per-stream output counts
(:mod:`shopstream.api.metrics`).

Examples
--------
>>> import tempfile
>>> from shopstream.api.app import ServeState
>>> from shopstream.stores.embedded import SqliteStore
>>> state = ServeState(SqliteStore(tempfile.mkdtemp() + "/h.db"))
>>> [route.path for route in health_router(state).routes]
['/health', '/metrics']
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from shopstream.api.metrics import MetricsInput, render
from shopstream.errors import require
from shopstream.stores.open import redact_url

if TYPE_CHECKING:
    from shopstream.api.app import ServeState

# FastAPI reads the handlers' annotations at runtime: its names must be module globals.
try:
    import fastapi
    from fastapi.responses import PlainTextResponse, Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "serve")
    raise

__all__ = ["health_router"]

_encode = msgspec.json.Encoder().encode


def health_router(state: ServeState) -> Any:
    """``/health`` and ``/metrics`` over ``state``."""
    router = fastapi.APIRouter()

    @router.get("/health", summary="Liveness and store reachability")
    async def health() -> Response:
        reachable = state.store.ping()
        live = state.live
        readers = state.read_workers
        failed = live is not None and live.failure is not None
        status = ("pipeline failed" if failed else "store unreachable" if not reachable
                  else "read workers failed" if readers is not None and readers.failed
                  else "ok")
        body: dict[str, Any] = {
            "status": status,
            "store": redact_url(state.store.url),
            "uptimeSeconds": round(time.time() - state.started, 1),
            "storeWrites": {"errors": state.store.stats.errors,
                            "retries": state.store.stats.retries,
                            "waiting": state.store.stats.waiting},
            "role": state.role,
            "pipeline": None if live is None else {
                "eventsProcessed": live.events_processed,
                "waiting": live.waiting,
                "watermark": max(live.engine.watermark_ms, -1),
                "errors": live.errors,
                "lastError": redact_url(live.last_error) if live.last_error else None,
            } | live.status(),
        }
        if readers is not None:
            body["readWorkers"] = readers.status()
        return Response(_encode(body), status_code=200 if status == "ok" else 503,
                        media_type="application/json")

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        live = state.live
        lag = None
        if live is not None and live.engine.max_timestamp_ms > 0:
            lag = time.time() - live.engine.max_timestamp_ms / 1000
        data = MetricsInput(
            events=live.events_processed if live else 0,
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

    return router
