"""Every write route is keyed (issue 18), found by walking the routes rather than listed, so
a route added later is covered too; and ``shopstream collect`` (its own server) keeps the
same rules: 401 without a key, no CORS grant to a disallowed Origin, no password shown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import cli_server
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from shopstream.api.collector import Collector
from shopstream.api.run_metrics import collect_observer
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.stores.open import open_store

KEY = "write-key-0123456789abcdef"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
EVIL = "https://evil.example"
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _fastapi_app(app: Any) -> Any:
    while not hasattr(app, "routes"):  # through the guard and the hot paths
        app = app.app
    return app


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    server = BackgroundServer(ServeConfig(
        store=str(tmp_path_factory.mktemp("w") / "f.db"), port=0, api_keys=(KEY,)))
    server.start()
    yield server
    server.stop()


def _routes(routes: Any) -> Iterator[Any]:
    for route in routes:  # an included router holds its routes (FastAPI 0.16x)
        if hasattr(route, "effective_candidates"):
            yield from _routes(route.effective_candidates())
        else:
            yield route


def _write_routes(server: BackgroundServer) -> tuple[list[tuple[str, str]], list[str]]:
    app = _fastapi_app(server._server.config.app)
    http: list[tuple[str, str]] = []
    sockets: list[str] = []
    for route in _routes(app.routes):
        original = getattr(route, "original_route", route)
        path = re.sub(r"\{[^}]+\}", "x1", route.path or original.path)
        kind = type(original).__name__.lower()
        if "websocket" in kind:
            sockets.append(path)
        for method in sorted(set(getattr(route, "methods", None) or ()) & _WRITES):
            http.append((method, path))
    return http, sockets


def test_every_write_route_needs_a_key(keyed: BackgroundServer) -> None:
    http, sockets = _write_routes(keyed)
    # The routes the issue names are among those found.
    assert {("POST", "/events"), ("POST", TP2), ("DELETE", "/users/x1")} <= set(http)
    assert "/ws" in sockets
    with httpx.Client(base_url=keyed.url, timeout=10) as client:
        for method, path in [*http, ("GET", "/i")]:
            answer = client.request(method, path, content=b"{}",
                                    headers={"Content-Type": "application/json"})
            assert answer.status_code == 401, (method, path, answer.text)
            wrong = client.request(method, path, content=b"{}", headers={
                "Content-Type": "application/json", "X-API-Key": "x" * 24})
            assert wrong.status_code == 401, (method, path)
        # With the key, a write goes through.
        event = {"eventType": "PAGE_VIEW", "sessionId": "s", "timestamp": int(time.time() * 1000)}
        assert client.post("/events", json=event, headers={"X-API-Key": KEY}).status_code == 202
    for path in sockets:
        with pytest.raises(InvalidStatus) as refused:
            connect(keyed.url.replace("http", "ws") + path, open_timeout=5)
        assert refused.value.response.status_code == 401, path


@pytest.fixture(scope="module")
def collect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("collect")
    (tmp / "keys").write_text(f"# the shop\n{KEY}\n")
    with cli_server(["collect", "--store", str(tmp / "f.db"), "--api-key-file",
                     str(tmp / "keys"), "--cors-origin", "https://shop.example",
                     "--rate-limit", "1000/s"]) as server:
        yield server.client


def _event() -> dict[str, Any]:
    return {"eventType": "PAGE_VIEW", "sessionId": "s", "timestamp": int(time.time() * 1000)}


def _pixel() -> dict[str, str]:
    return {"e": "pv", "sid": "s", "dtm": str(int(time.time() * 1000))}


def test_collect_writes_without_a_key_get_401(collect: httpx.Client) -> None:
    envelope = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                "data": [_pixel()]}
    for method, path, body, params in (("POST", "/events", _event(), None),
                                       ("POST", TP2, envelope, None),
                                       ("GET", "/i", None, _pixel())):
        answer = collect.request(method, path, json=body, params=params)
        assert answer.status_code == 401, (path, answer.text)
        keyed = collect.request(method, path, json=body,
                                params=(params or {}) | {"api_key": KEY})
        assert keyed.status_code in (200, 202), (path, keyed.text)


def test_collect_gives_no_cors_grant_to_a_disallowed_origin(collect: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    for path in (TP2, "/events", "/i"):
        refused = collect.options(path, headers={"Origin": EVIL} | preflight)
        assert not any(h.startswith("access-control-") for h in refused.headers), path
        answer = collect.get("/i", params=_pixel() | {"api_key": KEY},
                             headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in answer.headers
    granted = collect.options(TP2, headers={"Origin": "https://shop.example"} | preflight)
    assert granted.headers["access-control-allow-origin"] == "https://shop.example"


def test_collect_metrics_and_health_answer_without_a_key_and_count_no_refusal(
        collect: httpx.Client) -> None:
    assert collect.get("/health").status_code == 200
    assert "shopstream_rate_limited_total 0\n" in collect.get("/metrics").text


def test_collect_health_never_shows_a_password() -> None:
    # Nothing listens on port 9: the store fails, and its URL is shown without password.
    store = open_store("redis://shop:s3cret-pass@127.0.0.1:9/0")
    try:
        observer = collect_observer(Collector(), store, None, "127.0.0.1:9092")
        shown = json.dumps(observer.health()) + observer.metrics()
    finally:
        store.close()
    assert "s3cret" not in shown
    assert "redis://shop:***@127.0.0.1:9/0" in shown


def test_collect_options_reach_the_server(tmp_path: Path) -> None:
    """A bad value of a new option is one clear line, not a traceback."""
    done = subprocess.run([sys.executable, "-m", "shopstream.cli", "collect", "--store",
                           str(tmp_path / "f.db"), "--rate-limit", "fast"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "--rate-limit must be N/s" in done.stderr and "Traceback" not in done.stderr
