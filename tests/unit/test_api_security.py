"""The service let no one in (issue 18): API keys on writes and WebSocket subscriptions,
CORS only for configured origins, JSON-only ``POST /events``, body, header and idle
limits, and no password shown anywhere. Against uvicorn on a free port of 127.0.0.1,
in this process (the limits are the server's, so a test client would not do)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from shopstream.api.app import ServeState
from shopstream.api.security import KeyRing, SecurityConfig, load_api_keys
from shopstream.api.server import BackgroundServer, ServeConfig, build_state
from shopstream.errors import ConfigError
from shopstream.stores.open import open_store, redact_url

KEY = "test-key-0123456789abcdef"
SHOP = "https://shop.example"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
JSON = {"Content-Type": "application/json"}


def _event(session: str = "s1") -> dict[str, Any]:
    return {"eventType": "PAGE_VIEW", "sessionId": session, "userId": "alice",
            "timestamp": int(time.time() * 1000) - 60_000, "pageUrl": "https://shop.example/"}


def _pixel(eid: str) -> dict[str, str]:
    return {"e": "pv", "p": "web", "tv": "js-3", "eid": eid, "duid": "d1", "sid": "sess-1",
            "dtm": str(int(time.time() * 1000) - 60_000), "url": "https://shop.example/"}


def _server(tmp: Path, **options: Any) -> BackgroundServer:
    server = BackgroundServer(ServeConfig(store=str(tmp / "features.db"), port=0, **options))
    server.start()
    return server


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """Keys for writes, reads public, one CORS origin, a small body limit."""
    server = _server(tmp_path_factory.mktemp("keyed"), api_keys=(KEY,), cors_origins=(SHOP,),
                     max_body_bytes=4_096)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(keyed: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed.url, timeout=10) as http:
        yield http


# -- API keys ---------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/events", json.dumps(_event()).encode()),
    ("POST", TP2, json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/"
                                        "jsonschema/1-0-4", "data": [_pixel("e1")]}).encode()),
    ("GET", "/i", None),
])
def test_writes_without_a_key_get_401_with_a_clear_detail(
        client: httpx.Client, method: str, path: str, body: bytes | None) -> None:
    params = _pixel("e2") if path == "/i" else None
    answer = client.request(method, path, content=body, params=params, headers=JSON)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["detail"].startswith("missing API key: writes on this server need one")
    wrong = client.request(method, path, content=body, params=params,
                           headers=JSON | {"X-API-Key": KEY[:-1] + "X"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"].startswith("invalid API key")


def test_writes_with_a_key_are_accepted(client: httpx.Client) -> None:
    by_header = client.post("/events", json=_event(), headers={"X-API-Key": KEY})
    assert by_header.status_code == 202
    by_bearer = client.post("/events", json=_event(), headers={"Authorization": f"Bearer {KEY}"})
    assert by_bearer.status_code == 202
    # A pixel cannot send headers: the key rides in the query string, and is not kept.
    pixel = client.get("/i", params=_pixel("e3") | {"api_key": KEY})
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"


def test_reads_are_public_by_default_and_health_always(client: httpx.Client) -> None:
    assert client.get("/trending").status_code == 404  # nothing stored yet, but not 401
    assert client.get("/users/nobody/features").status_code == 404
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_read_keys_make_reads_keyed_too(tmp_path: Path) -> None:
    server = _server(tmp_path, api_keys=(KEY,), read_keys=True)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for path in ("/trending", "/users/u1/features", "/sessions/s1/recommendations",
                         "/metrics", "/collector/stats"):
                answer = http.get(path)
                assert answer.status_code == 401, path
                assert "reads on this server need one" in answer.json()["detail"]
                assert http.get(path, headers={"X-API-Key": KEY}).status_code in (200, 404)
            assert http.get("/health").status_code == 200
    finally:
        server.stop()


def test_websocket_subscriptions_need_a_key(keyed: BackgroundServer) -> None:
    ws_url = keyed.url.replace("http", "ws") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, open_timeout=5)
    assert refused.value.response.status_code == 401
    assert b"WebSocket subscriptions need one" in refused.value.response.body
    for url, headers in ((f"{ws_url}?api_key={KEY}", None), (ws_url, {"X-API-Key": KEY})):
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            ws.send(json.dumps({"subscribe": {"user": "alice"}}))
            assert json.loads(ws.recv(timeout=5)) == {"subscribed": {"user": "alice"}}


def test_collector_stats_hide_rejected_payloads_from_callers_without_a_key(
        client: httpx.Client) -> None:
    bad = _pixel("bad") | {"dtm": "not-a-time", "api_key": KEY}
    assert client.get("/i", params=bad).status_code == 400
    public = client.get("/collector/stats").json()
    assert public["recentDeadLetters"] is None and public["rejected"] >= 1
    keyed = client.get("/collector/stats", headers={"X-API-Key": KEY}).json()
    raws = [letter["raw"] for letter in keyed["recentDeadLetters"]]
    assert any("not-a-time" in raw for raw in raws)
    assert not any(KEY in raw for raw in raws)  # the caller's key is not part of a payload


def test_without_keys_everything_stays_open_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shopstream.api"):
        server = _server(tmp_path)
    try:
        assert "WARNING: no API keys configured" in caplog.text
        assert httpx.post(server.url + "/events", json=_event(), timeout=10).status_code == 202
        with connect(server.url.replace("http", "ws") + "/ws", open_timeout=5):
            pass
    finally:
        server.stop()


def test_keys_are_compared_by_digest_and_loaded_from_file_and_environment(
        tmp_path: Path) -> None:
    ring = KeyRing((KEY, "other-key-0123456789ab"))
    assert ring.allows(KEY) and ring.allows("other-key-0123456789ab")
    assert not ring.allows(KEY + "x") and not ring.allows("") and not ring.allows(None)
    keys = tmp_path / "keys"
    keys.write_text(f"# shop front\n{KEY}\n\n  other-key-0123456789ab  \n")
    assert load_api_keys(keys, {"SHOPSTREAM_API_KEYS": f"{KEY},env-key-0123456789abc"}) == (
        KEY, "other-key-0123456789ab", "env-key-0123456789abc")
    keys.write_text("# none yet\n")
    with pytest.raises(ConfigError, match="holds no key"):
        load_api_keys(keys, {})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_api_keys(tmp_path / "missing", {})
    with pytest.raises(ConfigError, match="at least 16 characters"):
        SecurityConfig(api_keys=("short",))


def test_a_multi_worker_config_survives_its_trip_through_the_environment() -> None:
    config = ServeConfig(store="f.db", api_keys=(KEY,), read_keys=True, cors_origins=(SHOP,))
    assert ServeConfig(**json.loads(json.dumps(asdict(config)))) == config
    assert KEY not in repr(config)


# -- CORS -------------------------------------------------------------------------------

def test_a_configured_origin_gets_a_grant_and_others_none(client: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    granted = client.options(TP2, headers={"Origin": SHOP} | preflight)
    assert granted.status_code == 204
    assert granted.headers["access-control-allow-origin"] == SHOP
    assert granted.headers["access-control-allow-credentials"] == "true"
    assert "POST" in granted.headers["access-control-allow-methods"]
    for path in (TP2, "/events", "/trending"):
        refused = client.options(path, headers={"Origin": "https://evil.example"} | preflight)
        assert refused.status_code == 403
        assert not any(h.startswith("access-control-") for h in refused.headers)
    # The collector no longer echoes whatever Origin it is sent.
    for path, params in ((TP2, None), ("/i", _pixel("e4") | {"api_key": KEY}),
                         ("/trending", None)):
        method = "POST" if path == TP2 else "GET"
        answer = client.request(method, path, params=params, content=b"{}", headers={
            "Origin": "https://evil.example", "X-API-Key": KEY} | JSON)
        assert "access-control-allow-origin" not in answer.headers, path
    same = client.get("/trending", headers={"Origin": SHOP})
    assert same.headers["access-control-allow-origin"] == SHOP


def test_no_origin_configured_means_no_grant_and_a_wildcard_no_credentials(
        tmp_path: Path) -> None:
    for origins, expected in (((), None), (("*",), "*")):
        server = _server(tmp_path / str(len(origins)), cors_origins=origins)
        try:
            answer = httpx.post(server.url + TP2, content=b"{}", timeout=10, headers={
                "Origin": "https://evil.example"} | JSON)
            assert answer.headers.get("access-control-allow-origin") == expected
            assert "access-control-allow-credentials" not in answer.headers
        finally:
            server.stop()


# -- content type and sizes -------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", None])
def test_post_events_takes_json_only(client: httpx.Client, ctype: str | None) -> None:
    headers = {"X-API-Key": KEY} | ({"Content-Type": ctype} if ctype else {})
    answer = client.post("/events", content=json.dumps(_event()).encode(), headers=headers)
    assert answer.status_code == 415
    assert "takes Content-Type: application/json" in answer.json()["detail"]
    ok = client.post("/events", content=json.dumps(_event()).encode(), headers={
        "X-API-Key": KEY, "Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 202


def test_snowplow_keeps_the_content_types_trackers_send(client: httpx.Client) -> None:
    body = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": [_pixel("e5")]}
    answer = client.post(TP2, content=json.dumps(body).encode(), headers={
        "X-API-Key": KEY, "Content-Type": "text/plain;charset=UTF-8"})
    assert answer.status_code == 200 and answer.json()["accepted"] == 1


def test_bodies_over_the_limit_get_413(client: httpx.Client) -> None:
    big = b"[" + b" " * 5_000 + b"]"
    declared = client.post("/events", content=big, headers=JSON | {"X-API-Key": KEY})
    assert declared.status_code == 413
    assert "larger than 4096 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b"["
        for _ in range(10):
            yield b" " * 1_000
        yield b"]"

    streamed = client.post("/events", content=chunks(), headers=JSON | {"X-API-Key": KEY})
    assert streamed.status_code == 413


def test_too_many_or_too_large_headers_are_refused(keyed: BackgroundServer) -> None:
    many = {f"x-h{i}": "v" for i in range(150)}
    assert httpx.get(keyed.url + "/health", headers=many, timeout=10).status_code == 400
    large = {"x-large": "v" * 20_000}
    assert httpx.get(keyed.url + "/health", headers=large, timeout=10).status_code == 400
    assert httpx.get(keyed.url + "/health", timeout=10).status_code == 200


def test_a_trickled_body_gets_408(tmp_path: Path) -> None:
    config = ServeConfig(store=str(tmp_path / "f.db"), port=0)
    state = build_state(config)
    state.security = SecurityConfig(body_timeout_s=0.5)
    server = BackgroundServer(config, state=state)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            slow.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: 100\r\n\r\n[")
            answer = slow.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408 ") and b"not received within 0.5 s" in answer
    finally:
        server.stop()


def test_silent_and_slow_connections_are_closed(tmp_path: Path) -> None:
    server = _server(tmp_path, idle_timeout_s=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""   # closed by the server
            assert time.monotonic() - started < 3
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            started = time.monotonic()
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.3)
            slow.sendall(b"X-Slow: 1\r\n")   # still no end of the headers
            assert slow.recv(1) == b""
            assert time.monotonic() - started < 3
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        server.stop()


# -- secrets ----------------------------------------------------------------------------

def test_health_and_store_errors_never_show_the_redis_password(tmp_path: Path) -> None:
    # Nothing listens on port 9: every store call fails, naming the store.
    store = open_store("redis://shop:s3cret-pass@127.0.0.1:9/0")
    config = ServeConfig(store="unused", port=0)
    server = BackgroundServer(config, state=ServeState(store=store,
                                                        security=config.security))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            health = http.get("/health")
            assert health.status_code == 503
            assert health.json()["store"] == "redis://shop:***@127.0.0.1:9/0"
            for path in ("/trending", "/users/u1/features", "/sessions/s1/recommendations",
                         "/sessions/s1/features"):
                answer = http.get(path)
                assert answer.status_code == 503, path
                assert "s3cret" not in answer.text and "store unavailable" in answer.text
    finally:
        server.stop()


@pytest.mark.parametrize(("text", "expected"), [
    ("redis://shop:pw@h:6379/0", "redis://shop:***@h:6379/0"),
    ("redis://:pw@h:6379", "redis://:***@h:6379"),
    ("rediss://token@h", "rediss://***@h"),
    ("redis://h:6379?password=pw&db=2", "redis://h:6379?password=***&db=2"),
    ("cannot read the store 'redis://a:b@h:1': Error 111", "cannot read the store "
                                                          "'redis://a:***@h:1': Error 111"),
    ("host=db password=pw dbname=shop", "host=db password=*** dbname=shop"),
    ("/var/lib/shop/features.db", "/var/lib/shop/features.db"),
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected
