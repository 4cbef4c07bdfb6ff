"""The hot reads answered inside the HTTP protocol, before uvicorn builds a request.

uvicorn spends more CPU on a request than the hot reads themselves: it parses the
request with httptools, builds the ASGI scope, starts a task, and turns the app's two
messages back into bytes (about 100-140 µs a request on the shared two-core machine,
against about 20 µs for an asyncio protocol answering fixed bytes:
``bench/read_load_bench.py`` measures both). :class:`FastReadProtocol` is uvicorn's
(limited) httptools protocol that recognises, in the bytes received, one whole plain
``GET`` of a hot route (:data:`~shopstream.api.hot_reads.HOT_ROUTES`) and writes its
answer at once: the same status and body as the ASGI path, with uvicorn's own default
headers (``date``, ``server``), and the same keep-alive timer afterwards.

Anything else goes to uvicorn unchanged, so every rule stays where it is; the fast path
declines (and the request takes the usual path) when the chunk is not exactly one
request, the parser is inside a message, a response is still being sent or writing is
paused, the request line is not ``GET <path> HTTP/1.1`` with a plain path (no ``%``),
the query has ``api_key``, a header asks for something (``connection`` other than
``keep-alive``, ``upgrade``, ``expect``, ``transfer-encoding``, a non-zero
``content-length``), a header line is malformed, the headers exceed the connection
limits, uvicorn's concurrency limit is reached, an access log is asked for, the app has a rate
limit (every request must pass it), reads need a key and none valid is presented
(``X-API-Key`` or ``Authorization: Bearer``: valid keys are remembered, at most
:data:`KNOWN_KEYS` of them), or CORS origins are configured and the request has an
``Origin``. A store error is a 503 answer like on the ASGI path; an unexpected
exception declines, so uvicorn's usual handling applies.

Examples
--------
>>> parse_get(b"GET /users/u1/features?x=1 HTTP/1.1\\r\\nHost: a\\r\\nX-API-Key: k\\r\\n\\r\\n")
('/users/u1/features', [(b'host', b'a'), (b'x-api-key', b'k')])
>>> parse_get(b"GET /users/u%31/features HTTP/1.1\\r\\n\\r\\n") is None
True
>>> parse_get(b"GET /a HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n") is None
True
"""

from __future__ import annotations

import re
from typing import Any

from shopstream.api.connection_limits import MAX_HEADERS, LimitedHttpToolsProtocol
from shopstream.api.hot_reads import HotPaths, HotReads
from shopstream.api.rate_limit import RateLimiter
from shopstream.api.security import Guard

try:
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE
except ImportError:  # pragma: no cover - httptools is optional (uvicorn[standard])
    STATUS_LINE = {}

__all__ = ["KNOWN_KEYS", "FastReadProtocol", "FastReads", "fast_answer", "fast_reads_of",
           "parse_get", "plan_of"]

#: Valid read keys remembered per server (a key is checked in full once).
KNOWN_KEYS = 64
#: A path of RFC 3986 path characters without percent-encoding; any printable query.
_REQUEST_LINE = re.compile(rb"GET (/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)(?:\?([!-~]*))? HTTP/1\.1")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Headers after which the fast path declines (unless their value is harmless).
_DECLINE = frozenset({b"upgrade", b"expect", b"transfer-encoding", b"connection",
                      b"content-length"})
_HARMLESS = {b"connection": (b"keep-alive",), b"content-length": (b"0",)}


def parse_get(data: bytes) -> tuple[str, list[tuple[bytes, bytes]]] | None:
    """Path and lower-cased headers of ``data`` when it is exactly one plain
    ``GET ... HTTP/1.1`` request the fast path may answer, else ``None``."""
    end = data.find(b"\r\n\r\n")
    if end != len(data) - 4:
        return None
    lines = data[:end].split(b"\r\n")
    if len(lines) > MAX_HEADERS + 1:
        return None
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None or (line.group(2) is not None and b"api_key" in line.group(2)):
        return None
    headers = []
    for raw in lines[1:]:
        colon = raw.find(b":")
        if colon <= 0 or _TOKEN.fullmatch(raw, 0, colon) is None:
            return None
        name = raw[:colon].lower()
        value = raw[colon + 1:].strip(b" \t")
        if name in _DECLINE and value.lower() not in _HARMLESS.get(name, ()):
            return None
        headers.append((name, value))
    return line.group(1).decode("ascii"), headers


class FastReads:
    """What the fast path needs from an app: its hot reads and its guard's rules."""

    def __init__(self, reads: HotReads, guard: Guard | None) -> None:
        self.reads = reads
        config = guard.config if guard is not None else None
        self.keys = guard.keys if guard is not None and config is not None and (
            config.read_keys) else None
        self.origins = bool(config is not None and config.cors_origins)
        self._valid: set[str] = set()

    def allowed(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the guard would pass this ``GET`` of a hot route untouched."""
        if self.origins and any(name == b"origin" for name, _ in headers):
            return False
        if self.keys is None:
            return True
        presented = None
        for name, value in headers:
            if name == b"x-api-key":
                presented = value.decode("latin-1")
                break
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    presented = token.strip()
                    break
        if presented is None:
            return False
        if presented in self._valid:
            return True
        if not self.keys.allows(presented):
            return False  # the guard answers 401
        if len(self._valid) >= KNOWN_KEYS:
            self._valid.clear()
        self._valid.add(presented)
        return True


def fast_reads_of(app: Any) -> FastReads | None:
    """The :class:`FastReads` of an app built by
    :func:`~shopstream.api.app.create_app` (through uvicorn's wrappers), or ``None``
    when it has no hot paths or a rate limit."""
    guard = None
    for _ in range(16):
        if app is None or isinstance(app, RateLimiter):
            return None
        if isinstance(app, Guard):
            guard = app
        if isinstance(app, HotPaths):
            return FastReads(app.reads, guard)
        app = getattr(app, "app", None)
    return None


_PLANS: dict[int, tuple[Any, FastReads | None]] = {}


def plan_of(app: Any) -> FastReads | None:
    """:func:`fast_reads_of` ``app``, worked out once per app (per process)."""
    known = _PLANS.get(id(app))
    if known is None or known[0] is not app:
        known = (app, fast_reads_of(app))
        _PLANS[id(app)] = known
    return known[1]


#: uvicorn's default headers (a list it replaces every second) and their bytes.
_DEFAULTS: list[Any] = [None, b""]


def fast_answer(fast: FastReads, data: bytes, defaults: list[tuple[bytes, bytes]]
                ) -> bytes | None:
    """The whole HTTP answer to ``data`` when it is a plain ``GET`` of a hot route the
    guard passes untouched (:func:`parse_get`, :meth:`FastReads.allowed`), else ``None``:
    the status line, uvicorn's ``defaults`` headers (``date``, ``server``), the
    content type and length, the body. An unexpected exception of the read gives
    ``None`` (uvicorn's usual path then answers, a 500); a store error is a 503 answer.

    >>> from shopstream.stores.embedded import temporary_store
    >>> fast = FastReads(HotReads(temporary_store({"recs:session:s1": [1]})), None)
    >>> answer = fast_answer(fast, b"GET /sessions/s1/recommendations HTTP/1.1\\r\\n\\r\\n",
    ...                      [(b"server", b"uvicorn")])
    >>> for line in answer.split(b"\\r\\n"):
    ...     print(line.decode())
    HTTP/1.1 200 OK
    server: uvicorn
    content-type: application/json
    content-length: 40
    <BLANKLINE>
    {"sessionId":"s1","recommendations":[1]}
    >>> fast_answer(fast, b"GET /trending HTTP/1.1\\r\\n\\r\\n", []) is None
    True
    """
    request = parse_get(data)
    if request is None or not fast.allowed(request[1]):
        return None
    try:
        found = fast.reads.answer(request[0])
    except Exception:  # uvicorn's usual path answers it (a 500)
        return None
    if found is None:
        return None
    status, body = found
    if defaults is not _DEFAULTS[0]:  # held here, so never another list at its address
        _DEFAULTS[1] = b"".join(b"%b: %b\r\n" % pair for pair in defaults)
        _DEFAULTS[0] = defaults
    return (b"%b%bcontent-type: application/json\r\ncontent-length: %d\r\n\r\n%b"
            % (STATUS_LINE[status], _DEFAULTS[1], len(body), body))


if LimitedHttpToolsProtocol is None:  # pragma: no cover - httptools is optional
    FastReadProtocol: Any = None
else:
    class FastReadProtocol(LimitedHttpToolsProtocol):  # type: ignore[misc,no-redef]
        """uvicorn's limited httptools protocol with the hot reads answered in
        :meth:`data_received` (see the module docs for when it declines)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # An access log asked for (uvicorn clears the logger's handlers otherwise).
            self._fast = None if self.config.access_log else plan_of(self.app)
            self._in_message = False

        def on_message_begin(self) -> None:
            self._in_message = True
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self._in_message = False
            super().on_message_complete()

        def data_received(self, data: bytes) -> None:
            if (self._fast is None or self._in_message or data[:5] != b"GET /"
                    or not self._answer(data)):
                super().data_received(data)

        def _answer(self, data: bytes) -> bool:
            """Answer ``data`` here; ``False`` (nothing written) to decline."""
            cycle = self.cycle
            limit = self.limit_concurrency
            if ((cycle is not None and not cycle.response_complete) or self.pipeline
                    or self.flow.write_paused or self.transport.is_closing()
                    or len(data) > (self.config.h11_max_incomplete_event_size or 16_384)
                    or (limit is not None and (len(self.connections) >= limit
                                               or len(self.tasks) >= limit))):
                return False
            fast = self._fast
            answer = None if fast is None else fast_answer(
                fast, data, self.server_state.default_headers)
            if answer is None:
                return False
            self._disarm()
            self._unset_keepalive_if_required()
            self.transport.write(answer)
            self.server_state.total_requests += 1
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler)
            return True
