"""The read port's HTTP protocol: hot reads answered by a plain asyncio protocol, every
other request by uvicorn on the same connection.

:class:`~shopstream.api.fast_protocol.FastReadProtocol` answers the hot reads inside
uvicorn's protocol, but each answer still pays for uvicorn's state around it: its
checks of the request cycle and pipeline, and a keep-alive timer cancelled and armed
again per request. The read workers' port (``serve --read-workers``) sees almost only
hot reads, so :class:`ReadPortProtocol` starts each connection without uvicorn's
protocol: a whole plain ``GET`` of a hot route is answered with
:func:`~shopstream.api.fast_protocol.fast_answer` (the same bytes as
``FastReadProtocol``, so as the ASGI path), and the connection's one idle timer is only
moved on when it fires. The first request it does not answer (anything
:func:`~shopstream.api.fast_protocol.fast_answer` declines, a request split over two
reads or pipelined, writing paused, uvicorn's concurrency limit reached) hands the
connection over for good: a ``FastReadProtocol`` is made for it, takes the transport
(``set_protocol``) and is fed that data, so every rule of uvicorn and of the guard
applies from there as on the main port.

Kept from uvicorn: the connection counts in ``server_state.connections`` (concurrency
limit, graceful shutdown closes it), ``total_requests``, the ``date``/``server`` headers,
an access log (with one, every connection is handed over at once), and the limits: a
connection with no request answered within ``timeout_keep_alive`` seconds of its start
or of its last answer is closed (uvicorn's keep-alive timer and the header deadline of
:class:`~shopstream.api.connection_limits.LimitedHttpToolsProtocol`).

Cost: per answered request, :func:`~shopstream.api.fast_protocol.fast_answer`, one
``write`` and one clock read; per connection, at most one timer callback per
``timeout_keep_alive`` seconds.

Examples
--------
>>> ReadPortProtocol.__mro__[1].__name__
'Protocol'
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from shopstream.api import fast_protocol
from shopstream.api.fast_protocol import FastReadProtocol, plan_of

__all__ = ["ReadPortProtocol", "read_port_options"]


class ReadPortProtocol(asyncio.Protocol):
    """One connection of the read port (see the module docs); made by uvicorn with the
    arguments of its HTTP protocols."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        # An access log asked for (uvicorn clears the logger's handlers otherwise).
        self._fast = None if config.access_log else plan_of(config.loaded_app)
        self._timeout = float(config.timeout_keep_alive)
        self._max_bytes = config.h11_max_incomplete_event_size or 16_384
        self._limit: int | None = config.limit_concurrency
        self.transport: asyncio.Transport | None = None
        self.handed_to: Any = None
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self._fast is None:
            self._hand_over(b"")
            return
        self.server_state.connections.add(self)
        self._last = self.loop.time()
        self._timer = self.loop.call_at(self._last + self._timeout, self._idle)

    def data_received(self, data: bytes) -> None:
        fast = self._fast
        transport = self.transport
        limit = self._limit
        if (fast is not None and transport is not None and not self._write_paused
                and data[:5] == b"GET /" and len(data) <= self._max_bytes
                and not transport.is_closing()
                and (limit is None or (len(self.server_state.connections) < limit
                                       and len(self.server_state.tasks) < limit))):
            answer = fast_protocol.fast_answer(fast, data, self.server_state.default_headers)
            if answer is not None:
                transport.write(answer)
                self.server_state.total_requests += 1
                self._last = self.loop.time()
                return
        self._hand_over(data)

    def _hand_over(self, data: bytes) -> None:
        """Give the connection, and ``data`` received on it, to uvicorn's protocol."""
        self._cancel_timer()
        self.server_state.connections.discard(self)
        protocol = FastReadProtocol(config=self.config, server_state=self.server_state,
                                    app_state=self.app_state, _loop=self.loop)
        transport = cast("asyncio.Transport", self.transport)  # set: we are connected
        protocol.connection_made(transport)
        # The header deadline runs from the last answer (or the connection), as on the
        # main port, not afresh from the hand-over.
        protocol.arm_at(self._last + self._timeout)
        if self._write_paused:
            protocol.pause_writing()
        transport.set_protocol(protocol)
        self.handed_to = protocol
        self._fast = None
        if data:
            protocol.data_received(data)

    def _idle(self) -> None:
        """Close the connection when nothing was answered for ``timeout_keep_alive``
        seconds, else look again when that will be the case."""
        self._timer = None
        due = self._last + self._timeout
        if self.loop.time() >= due:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()
        else:
            self._timer = self.loop.call_at(due, self._idle)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._cancel_timer()
        if exc is None and self.transport is not None:
            self.transport.close()

    def eof_received(self) -> None:
        return None  # the transport closes, as with uvicorn's protocol

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: no request is ever in progress here."""
        if self.transport is not None:
            self.transport.close()


def read_port_options(options: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's ``options`` for the read port: :class:`ReadPortProtocol` as its HTTP
    protocol when uvicorn's httptools protocol is there to hand over to.

    >>> read_port_options({"port": 1})["http"] is ReadPortProtocol
    True
    """
    if FastReadProtocol is None:  # pragma: no cover - httptools is optional
        return options
    return options | {"http": ReadPortProtocol}
