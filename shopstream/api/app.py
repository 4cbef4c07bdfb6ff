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

from shopstream import __version__
from shopstream.api.collector import collector_router
from shopstream.api.data import data_router
from shopstream.api.docs_routes import docs_router
from shopstream.api.events_routes import events_router
from shopstream.api.health_routes import health_router
from shopstream.api.hot_reads import HotPaths
from shopstream.api.jobs_routes import jobs_router
from shopstream.api.live import LiveConfig, LivePipeline
from shopstream.api.live_dashboard import dashboard_router
from shopstream.api.privacy_routes import privacy_router
from shopstream.api.profiles_routes import profiles_router
from shopstream.api.push import PushHub
from shopstream.api.reports_routes import reports_router
from shopstream.api.security import Guard, SecurityConfig
from shopstream.api.store_routes import recommendations_answer, store_router, user_features_answer
from shopstream.api.trends_routes import trends_router
from shopstream.api.user_recs_routes import user_recs_router
from shopstream.errors import require
from shopstream.events.limits import InputLimits
from shopstream.stores.base import FeatureStore

try:
    import fastapi
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "serve")
    raise

# user_features_answer and recommendations_answer are also imported from here (benches).
__all__ = ["HotPaths", "ServeState", "create_app", "recommendations_answer",
           "user_features_answer"]


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
    #: What one posted event may contain, at every door of this server (``serve --max-*``;
    #: ``serve --kafka`` checks events with it before producing them).
    input_limits: InputLimits = LiveConfig.input_limits
    #: ``"server"``, or ``"read worker"`` in a process of ``serve --read-workers``.
    role: str = "server"
    #: The read worker processes this server started
    #: (:class:`~shopstream.api.read_workers.ReadWorkers`), ``None`` without.
    read_workers: Any = None


def create_app(state: ServeState) -> Any:
    """Build the ASGI app serving ``state``: the FastAPI app behind the hot read paths,
    both behind the guard of ``state.security``."""
    if state.live is not None:
        state.live.listeners.append(state.hub.publish)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        state.hub.bind(asyncio.get_running_loop())
        yield

    # /docs and /redoc are served from installed assets (docs_router), not a CDN.
    app = fastapi.FastAPI(
        title="shopstream", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,
        description="Live shopper features, recommendations and pushes from the "
                    "shopstream pipeline's store.")

    app.include_router(data_router(state.postgres))
    app.include_router(dashboard_router(state))
    app.include_router(profiles_router(state))
    app.include_router(reports_router(state.lake))
    app.include_router(docs_router(app.title, app.openapi_url or "/openapi.json"))
    app.include_router(store_router(state.store))
    app.include_router(health_router(state))
    app.include_router(events_router(state))
    app.include_router(collector_router(state))
    app.include_router(jobs_router(state.store.url))
    app.include_router(trends_router(state))
    app.include_router(privacy_router(state))
    app.include_router(user_recs_router(state.store))
    return Guard(HotPaths(app, state.store), state.security)
