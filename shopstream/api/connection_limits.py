"""Connection limits of the HTTP server: headers, idle and slow clients, concurrency.

uvicorn's own options cover part of it: ``timeout_keep_alive`` closes a keep-alive
connection idle between requests, ``limit_concurrency`` answers 503 beyond that many
connections and tasks, ``h11_max_incomplete_event_size`` bounds the header block of the
pure-Python parser, ``ws_max_size`` a WebSocket message (64 KiB: clients only send
subscriptions). The C parser (httptools, what ``uvicorn[standard]`` brings) has no
header limit and starts no timer until a first response: a client that connects and
says nothing, or trickles its headers, would hold the connection forever.
:class:`LimitedHttpToolsProtocol` adds both: a request's headers must all arrive within
``timeout_keep_alive`` seconds of the connection (or of the request's first byte), and
at most :data:`MAX_HEADERS` headers of ``h11_max_incomplete_event_size`` bytes in all are
read (more: uvicorn's 400 and the connection is closed).

Examples
--------
>>> options = uvicorn_limit_options(ConnectionLimits(idle_timeout_s=2.0))
>>> [options[name] for name in ("timeout_keep_alive", "limit_concurrency",
...                             "h11_max_incomplete_event_size")]
[2, 1000, 16384]
>>> ConnectionLimits(max_connections=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: ConnectionLimits.max_connections must be >= 1, got 0
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["MAX_HEADERS", "ConnectionLimits", "uvicorn_limit_options"]

#: Headers one request may carry (browsers send about 20).
MAX_HEADERS = 100
_DEFAULT_HEADER_BYTES = 16_384
_WS_MAX_BYTES = 65_536


@dataclass(frozen=True)
class ConnectionLimits:
    """Limits of each connection to the server.

    Parameters
    ----------
    idle_timeout_s
        A connection silent this long (before its first request or between two) is
        closed, and so is one whose request headers take longer to arrive.
    max_header_bytes
        Bytes of a request's header block.
    max_connections
        Connections and requests in progress; beyond, new requests get 503.
    """

    idle_timeout_s: float = 5.0
    max_header_bytes: int = _DEFAULT_HEADER_BYTES
    max_connections: int = 1_000

    def __post_init__(self) -> None:
        for name, least in (("idle_timeout_s", 0.1), ("max_header_bytes", 1_024),
                            ("max_connections", 1)):
            value = getattr(self, name)
            if not value >= least:
                msg = f"ConnectionLimits.{name} must be >= {least}, got {value!r}"
                raise ConfigError(msg)


def uvicorn_limit_options(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn options enforcing ``limits`` (with the limited parser when available)."""
    options: dict[str, Any] = {
        "timeout_keep_alive": max(1, math.ceil(limits.idle_timeout_s)),
        "limit_concurrency": limits.max_connections,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        # WebSocket clients only send subscribe / unsubscribe messages.
        "ws_max_size": _WS_MAX_BYTES,
    }
    if LimitedHttpToolsProtocol is not None:
        options["http"] = LimitedHttpToolsProtocol
    return options


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is optional (uvicorn[standard])
    LimitedHttpToolsProtocol: Any = None
else:
    class _HeaderLimitError(Exception):
        """Raised inside the parser: httptools turns it into a parser error (400)."""

    class LimitedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with a header deadline and header limits."""

        _deadline: asyncio.TimerHandle | None = None
        _header_count = 0
        _header_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_count = self._header_bytes = 0
            if self._deadline is None:
                self._arm()

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            self._header_bytes += len(name) + len(value) + 4
            most = self.config.h11_max_incomplete_event_size or _DEFAULT_HEADER_BYTES
            if self._header_count > MAX_HEADERS or self._header_bytes > most:
                raise _HeaderLimitError
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            self.arm_at(self.loop.time() + self.config.timeout_keep_alive)

        def arm_at(self, when: float) -> None:
            """Close the connection at loop time ``when`` unless a request's headers
            are complete by then (a connection handed over keeps its first deadline)."""
            self._disarm()
            self._deadline = self.loop.call_at(when, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()
