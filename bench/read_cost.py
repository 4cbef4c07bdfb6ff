"""Where a hot read's CPU goes, measured in this process with ``time.thread_time_ns``
(CPU time of this thread only: robust on a shared machine, unlike wall time).

For each hot route, per request (median of 5 rounds of ``calls`` requests over 500 ids):

* ``answer_us``: the store read and the answer's bytes (``HotReads.answer``);
* ``asgi_app_us``: the whole ASGI app (guard, hot path, store read) with no socket,
  run to completion on an event loop;
* ``uvicorn_protocol_us``: uvicorn's (limited) httptools protocol fed the request bytes,
  its task run to completion, the answer written to a transport that only counts: what
  a request costs in Python when uvicorn handles it;
* ``fast_protocol_us``: the same with :class:`~shopstream.api.fast_protocol.FastReadProtocol`,
  which answers the hot reads in ``data_received`` (the main port);
* ``read_port_protocol_us``: the same with
  :class:`~shopstream.api.read_protocol.ReadPortProtocol` (the read workers' port).

The kernel's share (``recv``, ``send``, ``epoll``) is not in these; the server's CPU per
answered read under load (``bench/read_load_bench.py``) includes it.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from shopstream.api.app import ServeState, create_app
from shopstream.api.connection_limits import ConnectionLimits, uvicorn_limit_options
from shopstream.api.fast_protocol import FastReadProtocol
from shopstream.api.hot_reads import HotReads
from shopstream.api.read_protocol import ReadPortProtocol
from shopstream.api.security import SecurityConfig
from shopstream.stores import open_store


def median_us(fn: Callable[[], object], calls: int = 2_000, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.thread_time_ns()
        for _ in range(calls):
            fn()
        times.append((time.thread_time_ns() - start) / calls / 1000)
    return round(statistics.median(times), 1)


class _Transport:
    """A transport that counts what is written (the protocols' only peer here)."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def close(self) -> None:
        return None

    def set_protocol(self, protocol: Any) -> None:
        msg = f"a request was handed over to {type(protocol).__name__}"
        raise RuntimeError(msg)


def _protocol_cost(protocol_class: Any, app: Any, requests: list[bytes],
                   loop: asyncio.AbstractEventLoop, calls: int) -> float:
    import uvicorn
    from uvicorn.server import ServerState

    options = uvicorn_limit_options(ConnectionLimits())
    options.pop("http", None)
    config = uvicorn.Config(app, http=protocol_class, log_level="warning", access_log=False,
                            **options)
    config.load()
    state = ServerState()
    protocol = protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
    transport = _Transport()
    protocol.connection_made(transport)
    counter = {"i": 0}

    def one() -> None:
        counter["i"] += 1
        protocol.data_received(requests[counter["i"] % len(requests)])
        if state.tasks:
            loop.run_until_complete(asyncio.gather(*state.tasks))

    cost = median_us(one, calls)
    if transport.writes < calls:
        msg = f"{protocol_class.__name__} answered {transport.writes} of {calls} requests"
        raise RuntimeError(msg)
    protocol.connection_lost(None)
    return cost


def where_time_goes(spec: str, routes: dict[str, list[str]], calls: int = 2_000,
                    ) -> dict[str, Any]:
    """CPU per request of each route's answer, app and protocol paths (see the module)."""
    from shopstream.api.connection_limits import LimitedHttpToolsProtocol

    store = open_store(spec)
    app = create_app(ServeState(store=store, security=SecurityConfig()))
    reads = HotReads(store)
    loop = asyncio.new_event_loop()
    result: dict[str, Any] = {
        "measured": f"CPU microseconds per request in one thread (thread_time_ns), "
                    f"median of 5 x {calls}, 500 ids"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    try:
        for route, all_paths in routes.items():
            paths = all_paths[:500]
            counter = {"i": 0}

            def answer(paths: list[str] = paths, counter: dict[str, int] = counter) -> None:
                counter["i"] += 1
                reads.answer(paths[counter["i"] % len(paths)])

            def whole(paths: list[str] = paths, counter: dict[str, int] = counter) -> None:
                counter["i"] += 1
                path = paths[counter["i"] % len(paths)]
                scope = {"type": "http", "method": "GET", "path": path,
                         "raw_path": path.encode(), "query_string": b"",
                         "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
                         "server": ("127.0.0.1", 80), "scheme": "http",
                         "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"}}
                loop.run_until_complete(app(scope, receive, send))

            requests = [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for p in paths]
            result[route] = {"answer_us": median_us(answer, calls),
                             "asgi_app_us": median_us(whole, calls)}
            if LimitedHttpToolsProtocol is not None:
                result[route]["uvicorn_protocol_us"] = _protocol_cost(
                    LimitedHttpToolsProtocol, app, requests, loop, calls)
                result[route]["fast_protocol_us"] = _protocol_cost(
                    FastReadProtocol, app, requests, loop, calls)
                result[route]["read_port_protocol_us"] = _protocol_cost(
                    ReadPortProtocol, app, requests, loop, calls)
        return result
    finally:
        loop.close()
        store.close()
