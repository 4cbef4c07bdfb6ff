"""Rate limiting of the HTTP service: a token bucket per API key, or per client address.

``shopstream serve`` and ``shopstream collect`` put :class:`RateLimiter` in front of
everything else (the security guard included), so a flood is turned away before its body
is read. Each caller has a bucket of ``burst`` tokens refilled at ``rate_per_s`` tokens a
second; a request takes one token, and a request finding the bucket empty is answered
``429 Too Many Requests`` with ``Retry-After`` (whole seconds until a token is back) and a
JSON ``detail``. A WebSocket handshake takes a token too and is refused the same way
(a 429 answer to the handshake; closed with 1013, "try again later", on a server that
cannot answer a handshake over HTTP).

Who is a caller: the API key sent with the request when it is one of the configured keys
(so a shop behind one address with one key shares one bucket, and two keys never share
one); otherwise the client address (a made-up key cannot buy a fresh bucket). ``/health``
and ``/metrics`` are never limited: probes must see an overloaded server.

Memory is bounded: at most ``max_buckets`` buckets are kept. A bucket idle for
``burst / rate_per_s`` seconds is full again, the same as a new one, so it is dropped at
no cost; when the cap is reached with no idle bucket, the least recently used is dropped
(its caller starts again from a full bucket). Each request costs O(1).

The count of refused requests is ``shopstream_rate_limited_total`` on ``/metrics``
(appended to the page the app behind renders), beside ``shopstream_rate_limit_buckets``.
With several ``serve`` workers, each process has its own buckets (the limit is per worker).

Examples
--------
>>> clock = [0.0]
>>> buckets = TokenBuckets(RateLimitConfig(rate_per_s=2, burst=3), lambda: clock[0])
>>> [buckets.take("k") for _ in range(4)]
[0.0, 0.0, 0.0, 0.5]
>>> clock[0] = 0.5
>>> buckets.take("k"), buckets.take("k")
(0.0, 0.5)
>>> RateLimitConfig(rate_per_s=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RateLimitConfig.rate_per_s must be a finite number > 0, got 0
>>> parse_rate("300/min"), parse_rate("50/s"), parse_rate("off")
(5.0, 50.0, None)
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shopstream.api.security import KeyRing, presented_key
from shopstream.errors import ConfigError

__all__ = ["UNLIMITED_PATHS", "RateLimitConfig", "RateLimiter", "TokenBuckets", "parse_rate"]

#: Never limited: health probes and metrics scrapes.
UNLIMITED_PATHS = frozenset({"/health", "/metrics"})
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
        "h": 3600.0, "hour": 3600.0}


def parse_rate(text: str) -> float | None:
    """Requests per second of ``N``, ``N/s``, ``N/min`` or ``N/h``; ``off``: ``None``."""
    value = text.strip().lower()
    if value in ("off", "none", "0"):
        return None
    number, _, unit = value.partition("/")
    try:
        rate = float(number) / _PER[unit or "s"]
    except (ValueError, KeyError):
        rate = -1.0
    if not (math.isfinite(rate) and rate > 0):
        msg = f"--rate-limit must be N/s, N/min, N/h or 'off' with N > 0, got {text!r}"
        raise ConfigError(msg)
    return rate


@dataclass(frozen=True)
class RateLimitConfig:
    """A token bucket per caller.

    Parameters
    ----------
    rate_per_s
        Tokens (requests) a second given back to each bucket.
    burst
        Tokens of a full bucket: requests a caller may send at once after a quiet spell
        (default: one second's worth, at least 1).
    max_buckets
        Callers remembered at once (default 100,000, about 20 MB at most).
    api_keys
        The configured keys: a request sending one is limited per key, others per
        client address.
    """

    rate_per_s: float
    burst: int | None = None
    max_buckets: int = 100_000
    api_keys: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        rate = self.rate_per_s
        if (isinstance(rate, bool) or not isinstance(rate, (int, float))
                or not math.isfinite(rate) or rate <= 0):
            msg = f"RateLimitConfig.rate_per_s must be a finite number > 0, got {rate!r}"
            raise ConfigError(msg)
        if self.burst is None:
            object.__setattr__(self, "burst", max(1, math.ceil(rate)))
        for name in ("burst", "max_buckets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"RateLimitConfig.{name} must be an int >= 1, got {value!r}"
                raise ConfigError(msg)

    @property
    def capacity(self) -> int:
        """``burst`` once defaulted (always an int)."""
        return int(self.burst or 1)


class TokenBuckets:
    """The buckets of every caller, at most ``config.max_buckets`` of them (see the
    module). ``clock`` gives seconds (default ``time.monotonic``)."""

    def __init__(self, config: RateLimitConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.refused = 0
        self.evicted = 0
        # caller -> [tokens, time of the last refill]; oldest use first.
        self._buckets: collections.OrderedDict[object, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._refill_s = config.capacity / config.rate_per_s

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, caller: object) -> float:
        """Take a token for ``caller``: ``0.0`` when it had one, else the seconds until
        it will have one (the request is refused and counted)."""
        rate = self.config.rate_per_s
        capacity = float(self.config.capacity)
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(caller)
            if bucket is None:
                self._make_room(now)
                bucket = self._buckets[caller] = [capacity, now]
            else:
                self._buckets.move_to_end(caller)
                bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
                bucket[1] = now
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                return 0.0
            self.refused += 1
            return (1.0 - bucket[0]) / rate

    def _make_room(self, now: float) -> None:
        buckets = self._buckets
        # Full again after _refill_s: dropping such a bucket changes nothing.
        while buckets:
            oldest = next(iter(buckets.values()))
            if now - oldest[1] < self._refill_s:
                break
            buckets.popitem(last=False)
        if len(buckets) >= self.config.max_buckets:
            buckets.popitem(last=False)
            self.evicted += 1


class RateLimiter:
    """ASGI middleware answering 429 to a caller over its rate (see the module)."""

    def __init__(self, app: Any, config: RateLimitConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.config = config
        self.buckets = TokenBuckets(config, clock)
        self.keys = KeyRing(config.api_keys)

    def caller(self, scope: dict[str, Any]) -> object:
        """The bucket's name: a digest of a configured key, else the client address."""
        if self.keys:
            key = presented_key(scope)
            if key is not None and self.keys.allows(key):
                return hashlib.sha256(key.encode()).digest()[:16]
        client = scope.get("client")
        return ("ip", client[0] if client else "?")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in UNLIMITED_PATHS:
            if path == "/metrics" and kind == "http" and scope.get("method") == "GET":
                await self.app(scope, receive, self._with_metrics(send))
            else:
                await self.app(scope, receive, send)
            return
        wait_s = self.buckets.take(self.caller(scope))
        if wait_s <= 0.0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait_s))
        body = json.dumps({"detail": (
            f"rate limit exceeded: {self.config.rate_per_s:g} requests/s with bursts of "
            f"{self.config.capacity} per {'API key' if self.keys else 'client'}; retry "
            f"after {retry} s")}).encode()
        prefix = "http"
        if kind == "websocket":
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1013,
                            "reason": "rate limit exceeded"})
                return
            prefix = "websocket.http"
        await send({"type": f"{prefix}.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"),
                                (b"retry-after", str(retry).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": f"{prefix}.response.body", "body": body})

    def metrics_text(self) -> str:
        """The limiter's lines of the Prometheus page."""
        return ("# HELP shopstream_rate_limited_total Requests refused with 429 by the rate "
                "limit.\n# TYPE shopstream_rate_limited_total counter\n"
                f"shopstream_rate_limited_total {self.buckets.refused}\n"
                "# HELP shopstream_rate_limit_buckets Callers whose token bucket is kept.\n"
                "# TYPE shopstream_rate_limit_buckets gauge\n"
                f"shopstream_rate_limit_buckets {len(self.buckets)}\n")

    def _with_metrics(self, send: Any) -> Any:
        """``send`` for a ``/metrics`` answer: the limiter's lines appended to a 200."""
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def sending(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message.get("status") != 200:
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks) + self.metrics_text().encode()
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return sending
