"""The read port's protocol (shopstream.api.read_protocol): uvicorn on a free port of
127.0.0.1 with ReadPortProtocol, as a read worker runs it, against uvicorn with the main
port's FastReadProtocol on the same store, over raw sockets: the same bytes on the wire
(every header but ``date``), which requests it answers itself and which it hands over
with their connection, and uvicorn's rules (guard, concurrency limit, idle timeout,
graceful shutdown) either way."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from test_fast_protocol import FEATURES, KEY, PROFILE, RECS, SHOP, _exchange, _read_answer

from shopstream.api.fast_protocol import FastReadProtocol
from shopstream.api.read_protocol import ReadPortProtocol, read_port_options
from shopstream.api.server import ServeConfig, build_state, server_app, uvicorn_options
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore

pytestmark = pytest.mark.skipif(FastReadProtocol is None, reason="needs httptools")

HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


class _Uvicorn:
    """uvicorn serving the app of ``config`` in a thread, on the read port's protocol
    (``read_port=True``) or the main port's."""

    def __init__(self, config: ServeConfig, read_port: bool, **extra: Any) -> None:
        self.state = build_state(config, with_pipeline=False)
        options = uvicorn_options(config) | extra
        if read_port:
            options = read_port_options(options)
        self.server = uvicorn.Server(uvicorn.Config(server_app(self.state, config), **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.01)
        self.port: int = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.state.store.close()


def _config(tmp: Path, **options: Any) -> ServeConfig:
    path = tmp / "features.db"
    if not path.exists():
        store = SqliteStore(path)
        store.write_batch([StoreEntry("user:u1:orders_count_24hr", 2),
                           StoreEntry("recs:session:s1", [{"productId": "p1", "score": 0.5}]),
                           StoreEntry("profile:user:u1", {"userId": "u1", "segment": "b"})])
        store.close()
    return ServeConfig(store=str(path), port=0, **options)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The data of each hand-over to uvicorn's protocol, in order."""
    seen: list[bytes] = []
    original = ReadPortProtocol._hand_over

    def counting(self: ReadPortProtocol, data: bytes) -> None:
        seen.append(data)
        original(self, data)

    monkeypatch.setattr(ReadPortProtocol, "_hand_over", counting)
    return seen


@pytest.fixture
def ports(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(read port, main port) of two servers on one store."""
    read = _Uvicorn(_config(tmp_path), read_port=True)
    main = _Uvicorn(_config(tmp_path), read_port=False)
    yield read.port, main.port
    read.stop()
    main.stop()


def _same(got: tuple[int, dict[bytes, bytes], bytes],
          expected: tuple[int, dict[bytes, bytes], bytes]) -> None:
    assert got[0] == expected[0] and got[2] == expected[2]
    assert b"date" in got[1]
    assert {k: v for k, v in got[1].items() if k != b"date"} == {
        k: v for k, v in expected[1].items() if k != b"date"}


def test_hot_reads_answered_without_uvicorns_protocol_same_bytes(
        ports: tuple[int, int], handed: list[bytes]) -> None:
    read, main = ports
    requests = [FEATURES, RECS, PROFILE, b"GET /users/nobody/profile HTTP/1.1\r\n\r\n",
                b"GET /sessions/x/recommendations HTTP/1.1\r\nHost: x\r\n\r\n"]
    got = [_exchange(read, r, answers=1)[0] for r in requests]
    expected = [_exchange(main, r, answers=1)[0] for r in requests]
    for one, other in zip(got, expected, strict=True):
        _same(one, other)
    assert [status for status, _, _ in got] == [200, 200, 200, 404, 404]
    assert handed == []


def test_one_connection_handed_over_at_its_first_other_request(
        ports: tuple[int, int], handed: list[bytes]) -> None:
    read, main = ports
    sequence = [RECS, HEALTH, FEATURES, b"POST /users/u1/features HTTP/1.1\r\n"
                b"Content-Length: 0\r\n\r\n", PROFILE]
    for port in (read, main):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            buffer = bytearray()
            answers = []
            for request in sequence:
                sock.sendall(request)
                answers.append(_read_answer(sock, buffer))
        if port == read:
            got = answers
        else:
            expected = answers
    assert handed == [HEALTH]
    assert [status for status, _, _ in got] == [200, 200, 200, 405, 200]
    for i, (one, other) in enumerate(zip(got, expected, strict=True)):
        if i != 1:  # /health answers with the time
            _same(one, other)


def test_split_pipelined_and_unusual_requests_go_to_uvicorn_in_order(
        ports: tuple[int, int], handed: list[bytes]) -> None:
    read, main = ports
    for sends, answers in (((FEATURES + RECS + PROFILE,), 3),
                           ((FEATURES[:10], FEATURES[10:], RECS), 2),
                           ((b"GET /users/u%31/features HTTP/1.1\r\n\r\n",), 1),
                           ((FEATURES.replace(b"1.1", b"1.0"),), 1),
                           ((b"GARBAGE\r\n\r\n",), 1)):
        got = _exchange(read, *sends, answers=answers)
        expected = _exchange(main, *sends, answers=answers)
        for one, other in zip(got, expected, strict=True):
            _same(one, other)
    # The split request may arrive whole (then answered here): 4 or 5 hand-overs.
    assert handed[0] == FEATURES + RECS + PROFILE and len(handed) in (4, 5)


def test_read_keys_and_cors_keep_their_rules(tmp_path: Path, handed: list[bytes]) -> None:
    config = _config(tmp_path, api_keys=(KEY,), read_keys=True, cors_origins=(SHOP,))
    read, main = _Uvicorn(config, read_port=True), _Uvicorn(config, read_port=False)
    try:
        keyed = FEATURES.replace(b"\r\n\r\n", b"\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n")
        bearer = RECS.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer " + KEY.encode()
                              + b"\r\n\r\n")
        origin = keyed.replace(b"\r\n\r\n", b"\r\nOrigin: " + SHOP.encode() + b"\r\n\r\n")
        wrong = FEATURES.replace(b"\r\n\r\n", b"\r\nX-API-Key: nope-0123456789abcdef\r\n\r\n")
        for request in (FEATURES, wrong, keyed, bearer, origin):
            _same(_exchange(read.port, request, answers=1)[0],
                  _exchange(main.port, request, answers=1)[0])
        statuses = [_exchange(read.port, r, answers=1)[0][0]
                    for r in (FEATURES, wrong, keyed, bearer)]
        assert statuses == [401, 401, 200, 200]
        granted = _exchange(read.port, origin, answers=1)[0]
        assert granted[1][b"access-control-allow-origin"] == SHOP.encode()
        assert handed.count(FEATURES) == 2 and handed.count(origin) == 2
        assert keyed not in handed and bearer not in handed
    finally:
        read.stop()
        main.stop()


def test_the_concurrency_limit_answers_503_as_uvicorn_does(tmp_path: Path,
                                                           handed: list[bytes]) -> None:
    config = _config(tmp_path, max_connections=1)
    read, main = _Uvicorn(config, read_port=True), _Uvicorn(config, read_port=False)
    try:
        got = _exchange(read.port, RECS, answers=1)[0]
        _same(got, _exchange(main.port, RECS, answers=1)[0])
        assert got[0] == 503 and handed == [RECS]
    finally:
        read.stop()
        main.stop()


def test_an_access_log_hands_every_connection_over(tmp_path: Path,
                                                   handed: list[bytes]) -> None:
    read = _Uvicorn(_config(tmp_path), read_port=True, access_log=True)
    try:
        assert _exchange(read.port, RECS, answers=1)[0][0] == 200
        assert handed == [b""]
    finally:
        read.stop()


def test_idle_connections_are_closed(tmp_path: Path, handed: list[bytes]) -> None:
    # 3 s: three round trips must fit in one idle period on a loaded machine.
    read = _Uvicorn(_config(tmp_path, idle_timeout_s=3.0), read_port=True)
    try:
        with socket.create_connection(("127.0.0.1", read.port), timeout=10) as silent:
            assert silent.recv(1) == b""  # no request at all
        with socket.create_connection(("127.0.0.1", read.port), timeout=10) as sock:
            buffer = bytearray()
            for _ in range(3):
                sock.sendall(RECS)
                assert _read_answer(sock, buffer)[0] == 200
            assert sock.recv(1) == b""
        assert handed == []
    finally:
        read.stop()


def test_a_handed_over_connection_keeps_its_header_deadline(tmp_path: Path) -> None:
    """Headers that never complete are cut at the idle limit counted from the connection
    (as on the main port), not from the moment the read port handed it to uvicorn (review:
    a slow client held a read-worker connection up to twice the limit)."""
    read = _Uvicorn(_config(tmp_path, idle_timeout_s=2.0), read_port=True)
    try:
        with socket.create_connection(("127.0.0.1", read.port), timeout=10) as sock:
            start = time.monotonic()
            time.sleep(1.8)
            sock.sendall(b"GET /sessions/s1/reco")  # never completed
            assert sock.recv(1) == b""
            # Closed at about 2 s; from the hand-over it would be about 3.8 s.
            assert time.monotonic() - start < 3.3
    finally:
        read.stop()


def test_graceful_shutdown_closes_idle_connections(tmp_path: Path) -> None:
    read = _Uvicorn(_config(tmp_path, idle_timeout_s=60.0), read_port=True)
    with socket.create_connection(("127.0.0.1", read.port), timeout=10) as sock:
        buffer = bytearray()
        sock.sendall(RECS)
        assert _read_answer(sock, buffer)[0] == 200
        read.stop()
        assert not read.thread.is_alive()
        assert sock.recv(1) == b""
