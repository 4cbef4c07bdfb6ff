"""One read worker process of ``shopstream serve --read-workers N`` (started by
:class:`~shopstream.api.read_workers.ReadWorkers`, never by hand).

It opens the store read-only, builds the same app as the main port (so reads answer the
same status and bytes, behind the same guard) with :class:`ReadOnlyGate` in front, and
runs uvicorn on the listening socket it inherited, with
:class:`~shopstream.api.read_protocol.ReadPortProtocol` as its HTTP protocol (the hot
reads answered without uvicorn's protocol, everything else handed to it). It stops when
the server's lifeline pipe closes (the server exited, however) or on ``SIGTERM``.

Examples
--------
>>> import asyncio
>>> sent = []
>>> async def send(message):
...     sent.append(message)
>>> async def app(scope, receive, send):
...     await send({"type": "http.response.start", "status": 200, "headers": []})
>>> gate = ReadOnlyGate(app, 8000)
>>> asyncio.run(gate({"type": "http", "method": "POST", "path": "/events"}, None, send))
>>> sent[0]["status"], sent[1]["body"][:52]
(421, b'{"detail":"this port serves reads only (shopstream s')
>>> asyncio.run(gate({"type": "http", "method": "GET", "path": "/trending"}, None, send))
>>> sent[-1]["status"]
200
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
import threading
from typing import Any

import msgspec

__all__ = ["ReadOnlyGate", "main"]

#: ``GET`` routes that write (the Snowplow pixel): refused here like every write.
_GET_WRITES = frozenset({"/i"})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadOnlyGate:
    """ASGI: reads go on to ``app``; writes, WebSockets and the Snowplow pixel get 421
    (misdirected) with a ``detail`` naming the main port, which takes them."""

    def __init__(self, app: Any, main_port: int) -> None:
        self.app = app
        detail = (f"this port serves reads only (shopstream serve --read-workers): send "
                  f"writes and WebSocket subscriptions to port {main_port}")
        self._body = msgspec.json.encode({"detail": detail})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http" and (scope["method"] not in _READS
                               or scope["path"] in _GET_WRITES):
            await send({"type": "http.response.start", "status": 421,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"%d" % len(self._body))]})
            await send({"type": "http.response.body", "body": self._body})
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008,
                        "reason": "read port: subscribe on the main port"})
            return
        await self.app(scope, receive, send)


def _follow_lifeline(fd: int) -> None:
    """Block on the lifeline; its end (the server exited) stops this worker. A process
    the server forked could hold the pipe's write end on: a new parent (the server is
    gone) stops the worker too, checked every second."""
    parent = os.getppid()
    try:
        while os.getppid() == parent:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready and not os.read(fd, 1):
                break
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    from shopstream.api.read_workers import ENV

    spec = json.loads(os.environ.pop(ENV))
    threading.Thread(target=_follow_lifeline, args=(spec["lifeline"],), daemon=True,
                     name="shopstream-lifeline").start()
    from shopstream.api.app import ServeState
    from shopstream.api.read_protocol import read_port_options
    from shopstream.api.server import ServeConfig, server_app, uvicorn_options
    from shopstream.api.thread_priority import schedule_read_worker
    from shopstream.errors import require
    from shopstream.stores.open import open_store

    uvicorn = require("uvicorn", "shopstream[serve]")
    config = ServeConfig(**spec["config"])
    store = open_store(config.store, read_only=True)
    state = ServeState(store=store, postgres=config.postgres, security=config.security,
                       lake=config.lake, input_limits=config.input_limits,
                       role="read worker")
    app = ReadOnlyGate(server_app(state, config), spec["main_port"])
    sock = socket.socket(fileno=spec["fd"])
    server = uvicorn.Server(uvicorn.Config(app, **read_port_options(uvicorn_options(config))))
    # This (main) thread runs the event loop, and only it gets the slice and SCHED_FIFO:
    # the lifeline thread started before, and the threads started afterwards (anyio's
    # and asyncio's pools, store clients) run normal; the CPUs are every thread's.
    schedule_read_worker(config)
    gc.collect()
    gc.freeze()  # the app lives as long as the process: out of the collector's passes
    os.write(spec["ready"], b"r")
    os.close(spec["ready"])
    try:
        server.run(sockets=[sock])
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
