"""Who may call the service, from which web pages, with how large a request.

:class:`SecurityConfig` is what ``serve`` and ``collect`` are given; :class:`Guard` is the
ASGI layer in front of every route (the hot read paths included) that enforces it:

- **API keys.** Writes (``POST /events``, the Snowplow ``tp2`` POST and ``GET /i``, every
  other non-read method, and WebSocket subscriptions) need a key once keys are
  configured; reads (every other ``GET``) need one too with ``read_keys``. ``/health``
  and the OpenAPI docs stay public. A key is sent as ``X-API-Key: KEY``,
  ``Authorization: Bearer KEY`` or, where a browser cannot set headers (``GET /i``
  pixels, WebSockets), as ``?api_key=KEY``. Keys are compared in constant time. Without
  a key the answer is 401 with a ``detail``. The keys themselves (loading, digests,
  which one a request presents) are :mod:`shopstream.api.api_keys`.
- **CORS.** Only origins listed in ``cors_origins`` get a grant (``*`` grants any origin
  but never with credentials); a preflight from any other origin gets 403 and no
  ``Access-Control-*`` header.
- **Bodies.** ``POST /events`` takes ``application/json`` only (415 otherwise: a
  ``text/plain`` or type-less post is what a foreign page can send without a
  preflight); any body larger than ``max_body_bytes`` gets 413 before it is read whole,
  and one that takes longer than ``body_timeout_s`` to arrive gets 408.

Examples
--------
>>> keys = KeyRing(("k" * 16,))
>>> keys.allows("k" * 16), keys.allows("k" * 15), keys.allows(None)
(True, False, False)
>>> def refusal(**options):
...     try:
...         SecurityConfig(**options)
...     except ConfigError as exc:
...         return str(exc)
>>> refusal(read_keys=True)
'SecurityConfig.read_keys needs API keys (--api-key-file or SHOPSTREAM_API_KEYS)'
>>> refusal(cors_origins=("https://shop.example/",))[:65]
"SecurityConfig.cors_origins: 'https://shop.example/' is not an or"
>>> load_api_keys(None, {"SHOPSTREAM_API_KEYS": " key-0123456789abcdef, other-0123456789abcd "})
('key-0123456789abcdef', 'other-0123456789abcd')
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from shopstream.api.api_keys import (
    API_KEYS_ENV,
    MIN_KEY_LENGTH,
    KeyRing,
    load_api_keys,
    presented_key,
    request_allowed,
)
from shopstream.errors import ConfigError

# The key helpers live in shopstream.api.api_keys; they stay importable from here.
__all__ = ["API_KEYS_ENV", "Guard", "KeyRing", "SecurityConfig", "load_api_keys",
           "presented_key", "request_allowed"]

_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")
#: Reachable without a key even when reads are keyed: probes and the API's own docs.
_PUBLIC = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json",
                     # The docs pages' assets (shopstream.api.docs_routes.ASSET_PATHS).
                     "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css",
                     "/docs/favicon.png", "/redoc/redoc.standalone.js"})
#: ``GET`` routes that write: the Snowplow pixel.
_GET_WRITES = frozenset({"/i"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key, SP-Anonymous"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class SecurityConfig:
    """Who may call the service and how much they may send.

    Parameters
    ----------
    api_keys
        Keys that open write endpoints and WebSocket subscriptions (and reads with
        ``read_keys``); empty: everything is open, as for a local demo.
    read_keys
        Reads (``GET`` routes other than ``/health`` and the docs) need a key too.
    cors_origins
        Web origins granted CORS (``https://shop.example``); ``*`` grants every origin,
        without credentials. Empty: no grant to anyone.
    max_body_bytes
        Largest request body accepted (413 above).
    body_timeout_s
        Seconds a request body may take to arrive (408 after): a client trickling its
        body would otherwise hold a connection and a task for ever.
    """

    api_keys: tuple[str, ...] = field(default=(), repr=False)
    read_keys: bool = False
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    body_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        # From JSON (a multi-worker server's environment) these arrive as lists.
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        for key in self.api_keys:
            if len(key) < MIN_KEY_LENGTH or any(c.isspace() for c in key):
                msg = (f"SecurityConfig.api_keys: every key needs at least {MIN_KEY_LENGTH} "
                       f"characters and no white space, got one of {len(key)} characters")
                raise ConfigError(msg)
        if self.read_keys and not self.api_keys:
            msg = "SecurityConfig.read_keys needs API keys (--api-key-file or SHOPSTREAM_API_KEYS)"
            raise ConfigError(msg)
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.match(origin):
                msg = (f"SecurityConfig.cors_origins: {origin!r} is not an origin like "
                       "https://shop.example or https://shop.example:8443 (no path), nor *")
                raise ConfigError(msg)
        if self.max_body_bytes < 1_024:
            msg = f"SecurityConfig.max_body_bytes must be >= 1024, got {self.max_body_bytes!r}"
            raise ConfigError(msg)
        if not self.body_timeout_s > 0:
            msg = f"SecurityConfig.body_timeout_s must be > 0, got {self.body_timeout_s!r}"
            raise ConfigError(msg)

    def warning(self) -> str | None:
        """What an operator must know at start: no keys means anyone may write."""
        if self.api_keys:
            return None
        return ("WARNING: no API keys configured (--api-key-file FILE or "
                f"{API_KEYS_ENV}): anyone who can reach this server may post events and "
                "subscribe to any shopper's pushes")


class Guard:
    """The ASGI layer enforcing a :class:`SecurityConfig` in front of ``app``."""

    def __init__(self, app: Any, config: SecurityConfig) -> None:
        self.app = app
        self.config = config
        self.keys = KeyRing(config.api_keys)
        self._any_origin = "*" in config.cors_origins
        self._origins = frozenset(config.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        # The hot read path: nothing to check on a public GET without an Origin.
        if (method == "GET" and not self.config.read_keys and path not in _GET_WRITES
                and not self._origins):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        grant = self._grant(origin)
        if method == "OPTIONS" and origin is not None and _header(
                scope, b"access-control-request-method") is not None:
            await self._preflight(origin, grant, send)
            return
        refusal = self._refusal(scope, method, path)
        if refusal is not None:
            await _answer(send, *refusal, grant)
            return
        if method in _BODY_METHODS:
            try:
                async with asyncio.timeout(self.config.body_timeout_s):
                    body = await _read_body(scope, receive, self.config.max_body_bytes)
            except TimeoutError:
                detail = (f"request body not received within {self.config.body_timeout_s:g} "
                          "s")
                await _answer(send, 408, {"detail": detail}, grant,
                              [(b"connection", b"close")])
                return
            if body is None:
                detail = (f"request body larger than {self.config.max_body_bytes} bytes "
                          "(--max-body-bytes)")
                await _answer(send, 413, {"detail": detail}, grant)
                return
            receive = _replay(body, receive)
        if grant:
            send = _granting(send, grant)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, method: str, path: str,
                 ) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]] | None:
        """Status, body and headers of the answer refusing this request, if any."""
        if self.keys and path not in _PUBLIC:
            is_read = method in ("GET", "HEAD") and path not in _GET_WRITES
            if (not is_read or self.config.read_keys) and not self.keys.allows(
                    presented_key(scope)):
                what = "reads" if is_read else "writes"
                given = presented_key(scope) is not None
                detail = (f"{'invalid' if given else 'missing'} API key: {what} on this "
                          "server need one, sent as `X-API-Key: KEY` or "
                          "`Authorization: Bearer KEY`")
                return 401, {"detail": detail}, [(b"www-authenticate", b"Bearer")]
        if method == "POST" and path == "/events":
            ctype = _header(scope, b"content-type") or ""
            media = ctype.split(";", 1)[0].strip().lower()
            if media != "application/json" and not (
                    media.startswith("application/") and media.endswith("+json")):
                detail = (f"POST /events takes Content-Type: application/json, got "
                          f"{ctype or 'none'!r}")
                return 415, {"detail": detail}, []
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit()
                                   or int(length) > self.config.max_body_bytes):
            detail = (f"request body larger than {self.config.max_body_bytes} bytes "
                      "(--max-body-bytes)")
            return 413, {"detail": detail}, []
        return None

    def _grant(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """The CORS headers ``origin`` is granted (none when it is not configured)."""
        if origin is None:
            return []
        if origin in self._origins:
            return [(b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-credentials", b"true"), (b"vary", b"Origin")]
        if self._any_origin:  # a wildcard never comes with credentials
            return [(b"access-control-allow-origin", b"*")]
        return []

    async def _preflight(self, origin: str, grant: list[tuple[bytes, bytes]],
                         send: Send) -> None:
        if not grant:
            detail = f"origin {origin!r} is not allowed (--cors-origin)"
            await _answer(send, 403, {"detail": detail}, [])
            return
        headers = [*grant, (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                   (b"access-control-allow-headers", _ALLOWED_HEADERS.encode()),
                   (b"access-control-max-age", b"600"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin")
        if self.keys and not self.keys.allows(presented_key(scope)):
            detail = ("missing or invalid API key: WebSocket subscriptions need one, sent "
                      "as `X-API-Key: KEY` or `?api_key=KEY`")
            await _deny_websocket(scope, send, 401, detail)
            return
        if origin is not None and self._origins and not self._grant(origin):
            await _deny_websocket(scope, send, 403,
                                  f"origin {origin!r} is not allowed (--cors-origin)")
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


async def _answer(send: Send, status: int, body: dict[str, Any],
                  headers: list[tuple[bytes, bytes]], *extra: list[tuple[bytes, bytes]],
                  ) -> None:
    payload = msgspec.json.encode(body)
    all_headers = [(b"content-type", b"application/json"),
                   (b"content-length", b"%d" % len(payload)), *headers]
    for more in extra:
        all_headers.extend(more)
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": payload})


async def _deny_websocket(scope: Scope, send: Send, status: int, detail: str) -> None:
    """Refuse a handshake with an HTTP answer when the server can send one, else close
    it with 1008 (policy violation), which clients see as a 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        payload = msgspec.json.encode({"detail": detail})
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"%d" % len(payload))]})
        await send({"type": "websocket.http.response.body", "body": payload})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` as soon as it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving the app the body already read, then what follows."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _granting(send: Send, grant: list[tuple[bytes, bytes]]) -> Send:
    """A ``send`` adding the CORS grant to the response headers."""
    async def granting(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {name.lower() for name, _ in message.get("headers", ())}
            extra = [(n, v) for n, v in grant if n not in names]
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return granting
