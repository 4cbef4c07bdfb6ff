"""The HTTP API: FastAPI routes over a feature store, the pipeline ``serve`` hosts,
WebSocket pushes and Prometheus metrics. Needs ``pip install 'shopstream[serve]'``."""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "app",
    "collector",
    "connection_limits",
    "data",
    "docs_routes",
    "events_routes",
    "health_routes",
    "ingest_log",
    "jobs_routes",
    "live",
    "live_dashboard",
    "metrics",
    "metrics_server",
    "privacy_routes",
    "profiles_routes",
    "push",
    "reports_routes",
    "run_metrics",
    "security",
    "serve_checkpoints",
    "server",
    "store_routes",
    "trends_routes",
]
