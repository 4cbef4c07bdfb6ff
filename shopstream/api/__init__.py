"""The HTTP API: FastAPI routes over a feature store, the pipeline ``serve`` hosts,
WebSocket pushes and Prometheus metrics. Needs ``pip install 'shopstream[serve]'``."""

from __future__ import annotations
