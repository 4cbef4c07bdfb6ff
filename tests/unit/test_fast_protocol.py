"""The hot reads answered inside uvicorn's protocol (shopstream.api.fast_protocol):
against uvicorn on a free port of 127.0.0.1, over raw sockets, so what is checked is
the bytes on the wire, which requests the fast path answers (counted) and which it
leaves to uvicorn, and that the guard's rules hold either way."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shopstream.api import fast_protocol
from shopstream.api.app import create_app
from shopstream.api.fast_protocol import FastReadProtocol, fast_reads_of, parse_get
from shopstream.api.rate_limit import RateLimiter
from shopstream.api.server import BackgroundServer, ServeConfig, build_state
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore

KEY = "read-key-0123456789abcdef"
SHOP = "https://shop.example"
FEATURES = b"GET /users/u1/features HTTP/1.1\r\nHost: x\r\n\r\n"
RECS = b"GET /sessions/s1/recommendations HTTP/1.1\r\nHost: x\r\n\r\n"
PROFILE = b"GET /users/u1/profile HTTP/1.1\r\nHost: x\r\n\r\n"

pytestmark = pytest.mark.skipif(FastReadProtocol is None, reason="needs httptools")


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many requests the fast path answered and declined."""
    counts = {"fast": 0, "declined": 0}
    original = FastReadProtocol._answer

    def counting(self: Any, data: bytes) -> bool:
        done: bool = original(self, data)
        counts["fast" if done else "declined"] += 1
        return done

    monkeypatch.setattr(FastReadProtocol, "_answer", counting)
    return counts


def _server(tmp: Path, **options: Any) -> BackgroundServer:
    path = tmp / "features.db"
    store = SqliteStore(path)
    store.write_batch([StoreEntry("user:u1:orders_count_24hr", 2),
                       StoreEntry("recs:session:s1", [{"productId": "p1", "score": 0.5}]),
                       StoreEntry("profile:user:u1", {"userId": "u1", "segment": "buyer"})])
    store.close()
    config = ServeConfig(store=str(path), port=0, **options)
    server = BackgroundServer(config, build_state(config, with_pipeline=False))
    server.start()
    return server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    started = _server(tmp_path)
    yield started
    started.stop()


def _read_answer(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[bytes, bytes],
                                                                  bytes]:
    """One HTTP answer from ``sock`` (``buffer`` keeps what follows it)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65_536)
        assert chunk, "connection closed before an answer"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65_536)
        assert chunk
        rest += chunk
    buffer[:] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def _exchange(port: int, *sends: bytes, answers: int) -> list[tuple[int, dict[bytes, bytes],
                                                                     bytes]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for data in sends:
            sock.sendall(data)
        buffer = bytearray()
        return [_read_answer(sock, buffer) for _ in range(answers)]


def test_hot_reads_answered_in_the_protocol_on_one_keep_alive_connection(
        server: BackgroundServer, answered: dict[str, int]) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        buffer = bytearray()
        got = []
        for request in (FEATURES, RECS, PROFILE, FEATURES):
            sock.sendall(request)
            got.append(_read_answer(sock, buffer))
    assert [status for status, _, _ in got] == [200, 200, 200, 200]
    features = msgspec.json.decode(got[0][2])
    assert features["userId"] == "u1" and features["features"]["orders_count_24hr"] == 2
    assert got[1][2] == b'{"sessionId":"s1","recommendations":[{"productId":"p1","score":0.5}]}'
    assert got[2][2] == b'{"userId":"u1","segment":"buyer"}'
    for _, headers, _ in got:
        assert headers[b"content-type"] == b"application/json"
        assert b"date" in headers and headers[b"server"] == b"uvicorn"
    assert answered == {"fast": 4, "declined": 0}


def test_fast_and_usual_paths_give_the_same_answers(
        server: BackgroundServer, answered: dict[str, int]) -> None:
    for path in (b"/users/u1/features", b"/sessions/s1/recommendations",
                 b"/users/u1/profile", b"/users/nobody/profile", b"/sessions/x/recommendations"):
        fast = _exchange(server.port, b"GET %b HTTP/1.1\r\nHost: x\r\n\r\n" % path, answers=1)
        # HTTP/1.0 is left to uvicorn (then the ASGI hot path answers).
        usual = _exchange(server.port, b"GET %b HTTP/1.0\r\n\r\n" % path, answers=1)
        assert fast[0][0] == usual[0][0] and fast[0][2] == usual[0][2], path
    assert answered == {"fast": 5, "declined": 5}


@pytest.mark.parametrize("request_bytes", [
    b"GET /users/u%31/features HTTP/1.1\r\nHost: x\r\n\r\n",          # percent-encoded
    b"GET /users/u1/features?api_key=k HTTP/1.1\r\nHost: x\r\n\r\n",  # a key in the query
    b"GET /users/u1/features HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /users/u1/features HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    b"GET /users/u1/features HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
    b"GET /users/u1/features HTTP/1.1\r\nbad header\r\n\r\n",
    b"GET /trending HTTP/1.1\r\nHost: x\r\n\r\n",                    # not a hot route
])
def test_the_fast_path_declines_what_it_does_not_know(
        server: BackgroundServer, answered: dict[str, int], request_bytes: bytes) -> None:
    got = _exchange(server.port, request_bytes, answers=1)
    assert answered["fast"] == 0
    assert got[0][0] in (200, 400, 404, 417)
    if b"u%31" in request_bytes:  # decoded by uvicorn: the shopper u1
        assert got[0][0] == 200 and got[0][2].startswith(b'{"userId":"u1"')


def test_pipelined_and_split_requests_are_answered_in_order(
        server: BackgroundServer, answered: dict[str, int]) -> None:
    got = _exchange(server.port, FEATURES + RECS + PROFILE, answers=3)
    assert [b[:12] for _, _, b in got] == [b'{"userId":"u', b'{"sessionId"', b'{"userId":"u']
    split = _exchange(server.port, FEATURES[:10], FEATURES[10:], RECS, answers=2)
    assert [status for status, _, _ in split] == [200, 200]
    assert split[1][2].startswith(b'{"sessionId":"s1"')


def test_read_keys_and_cors_keep_their_rules(tmp_path: Path, answered: dict[str, int]) -> None:
    server = _server(tmp_path, api_keys=(KEY,), read_keys=True, cors_origins=(SHOP,))
    try:
        missing = _exchange(server.port, FEATURES, answers=1)
        wrong = _exchange(server.port, FEATURES.replace(
            b"\r\n\r\n", b"\r\nX-API-Key: " + KEY[:-1].encode() + b"X\r\n\r\n"), answers=1)
        assert missing[0][0] == 401 and wrong[0][0] == 401
        assert answered["fast"] == 0
        keyed = FEATURES.replace(b"\r\n\r\n", b"\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n")
        bearer = RECS.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer " + KEY.encode()
                              + b"\r\n\r\n")
        assert [a[0] for a in _exchange(server.port, keyed, answers=1)
                + _exchange(server.port, keyed, answers=1)
                + _exchange(server.port, bearer, answers=1)] == [200, 200, 200]
        assert answered["fast"] == 3
        # A request with an Origin goes through the guard, which adds the CORS grant.
        origin = keyed.replace(b"\r\n\r\n", b"\r\nOrigin: " + SHOP.encode() + b"\r\n\r\n")
        granted = _exchange(server.port, origin, answers=1)[0]
        assert granted[0] == 200 and granted[1][b"access-control-allow-origin"] == SHOP.encode()
        assert answered["fast"] == 3
    finally:
        server.stop()


def test_no_fast_path_behind_a_rate_limit(tmp_path: Path) -> None:
    config = ServeConfig(store=str(tmp_path / "f.db"), port=0, rate_limit_per_s=5.0)
    assert config.rate_limit is not None
    state = build_state(config, with_pipeline=False)
    try:
        app = create_app(state)
        assert fast_reads_of(app) is not None
        assert fast_reads_of(RateLimiter(app, config.rate_limit)) is None
    finally:
        state.store.close()


def test_parse_get_takes_one_plain_request_only() -> None:
    assert parse_get(FEATURES) == ("/users/u1/features", [(b"host", b"x")])
    assert parse_get(FEATURES + RECS) is None            # pipelined
    assert parse_get(FEATURES[:-2]) is None              # incomplete
    assert parse_get(FEATURES.replace(b"GET", b"HEAD")) is None
    assert parse_get(FEATURES.replace(b"1.1", b"1.0")) is None
    assert parse_get(b"GET /a#b HTTP/1.1\r\n\r\n") is None
    assert parse_get(b"GET /a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n") is None
    assert parse_get(b"GET /a HTTP/1.1\r\nConnection: Keep-Alive\r\n\r\n") is not None
    assert parse_get(b"GET /a HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n") is None
    assert parse_get(b"GET /a HTTP/1.1\r\n folded\r\n\r\n") is None


def test_valid_keys_are_remembered_up_to_a_bound() -> None:
    class Guarded:
        pass

    from shopstream.api.hot_reads import HotPaths
    from shopstream.api.security import Guard, SecurityConfig

    keys = tuple(f"key-{i:04d}-0123456789abcdef" for i in range(100))
    app = Guard(HotPaths(Guarded(), None), SecurityConfig(api_keys=keys,  # type: ignore[arg-type]
                                                         read_keys=True))
    fast = fast_reads_of(app)
    assert fast is not None
    for key in keys:
        assert fast.allowed([(b"x-api-key", key.encode())])
        assert len(fast._valid) <= fast_protocol.KNOWN_KEYS
    assert not fast.allowed([(b"x-api-key", b"nope-0123456789abcdef")])
    assert not fast.allowed([(b"authorization", b"Basic " + keys[0].encode())])


def test_an_idle_connection_is_closed_after_a_fast_answer(
        tmp_path: Path, answered: dict[str, int]) -> None:
    server = _server(tmp_path, idle_timeout_s=1.0)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            buffer = bytearray()
            sock.sendall(RECS)
            assert _read_answer(sock, buffer)[0] == 200
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server's keep-alive timeout
            assert time.monotonic() - started < 5
        assert answered["fast"] == 1
    finally:
        server.stop()
