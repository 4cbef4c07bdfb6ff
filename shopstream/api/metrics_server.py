"""``/metrics`` and ``/health`` for every long-running command, outside the pipeline's way.

:class:`MetricsServer` answers both paths from a thread of its own (the standard
library's HTTP server: no FastAPI, nothing for ``run`` to import beyond the standard
library). Both answers are computed at scrape time from counters the pipeline keeps
anyway, so the pipeline pays nothing per event. :class:`ObservedApp` answers the same
two paths in front of an ASGI app (``collect`` serves them on its own port).

Examples
--------
>>> import json, urllib.request
>>> server = MetricsServer("127.0.0.1", 0, lambda: "shopstream_up 1\\n",
...                        lambda: {"status": "ok"})
>>> server.start()
>>> urllib.request.urlopen(server.url + "/metrics").read()
b'shopstream_up 1\\n'
>>> json.loads(urllib.request.urlopen(server.url + "/health").read())
{'status': 'ok'}
>>> server.stop()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["CONTENT_TYPE", "MetricsServer", "ObservedApp", "health_status"]

#: The Prometheus text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Metrics = Callable[[], str]
Health = Callable[[], dict[str, Any]]


def health_status(body: dict[str, Any]) -> int:
    """200 when ``body["status"]`` is ``"ok"``, else 503 (load balancers read the code)."""
    return 200 if body.get("status") == "ok" else 503


def _answer(path: str, metrics: Metrics, health: Health) -> tuple[int, str, bytes] | None:
    """Status, content type and body for ``path``, or ``None`` when it is not ours."""
    path = path.split("?", 1)[0]
    if path == "/metrics":
        return 200, CONTENT_TYPE, metrics().encode()
    if path == "/health":
        body = health()
        return health_status(body), "application/json", json.dumps(body).encode()
    return None


class MetricsServer:
    """``GET /metrics`` and ``GET /health`` on ``host:port`` (0: a free port, see
    :attr:`port`) until :meth:`stop`. The port is bound by the constructor, so a busy
    port fails at once with a :class:`~shopstream.errors.ConfigError`."""

    def __init__(self, host: str, port: int, metrics: Metrics, health: Health) -> None:
        handler = _handler(metrics, health)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            msg = (f"--metrics-port: cannot listen on {host}:{port} for /metrics and /health: "
                   f"{exc.strerror}")
            raise ConfigError(msg) from None
        self._server.daemon_threads = True
        self.host = host
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="shopstream-metrics", daemon=True)

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _handler(metrics: Metrics, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "shopstream-metrics"

        def do_GET(self) -> None:
            try:
                found = _answer(self.path, metrics, health)
            except Exception as exc:  # a probe failing must not kill the server
                found = 500, "text/plain", f"metrics failed: {type(exc).__name__}".encode()
            if found is None:
                found = 404, "text/plain", b"only /metrics and /health here\n"
            status, kind, body = found
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood the terminal

    return Handler


class ObservedApp:
    """An ASGI app answering ``GET /metrics`` and ``GET /health`` itself and passing
    every other request to ``app``."""

    def __init__(self, app: Any, metrics: Metrics, health: Health) -> None:
        self.app = app
        self.metrics = metrics
        self.health = health

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            found = _answer(scope["path"], self.metrics, self.health)
            if found is not None:
                status, kind, body = found
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", kind.encode()),
                                        (b"content-length", b"%d" % len(body))]})
                await send({"type": "http.response.body",
                            "body": b"" if scope["method"] == "HEAD" else body})
                return
        await self.app(scope, receive, send)
