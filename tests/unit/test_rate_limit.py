"""Rate limiting of the HTTP service (issue 18): a token bucket per API key or client
address, 429 with Retry-After, counted in /metrics, with bounded memory."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from shopstream.api.rate_limit import RateLimitConfig, RateLimiter, TokenBuckets, parse_rate
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.errors import ConfigError

KEY = "rate-key-0123456789abcdef"
OTHER = "rate-key-fedcba9876543210"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimitConfig(rate_per_s=10, burst=5), clock)
    assert [buckets.take("a") for _ in range(5)] == [0.0] * 5
    assert buckets.take("a") == pytest.approx(0.1)
    clock.now += 0.1
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.1)
    clock.now += 60  # a quiet minute refills to the burst, never beyond
    assert [buckets.take("a") for _ in range(6)].count(0.0) == 5
    assert buckets.refused == 3


def test_callers_do_not_share_buckets() -> None:
    buckets = TokenBuckets(RateLimitConfig(rate_per_s=1, burst=1), Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_buckets_are_capped_and_idle_ones_dropped_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(RateLimitConfig(rate_per_s=1, burst=2, max_buckets=3), clock)
    for name in ("a", "b", "c"):
        buckets.take(name)
    assert len(buckets) == 3
    buckets.take("d")  # no bucket idle yet: the least recently used ("a") goes
    assert len(buckets) == 3 and buckets.evicted == 1
    clock.now += 2.0  # every bucket is full again: all may go at no cost
    buckets.take("e")
    assert len(buckets) == 1 and buckets.evicted == 1
    for n in range(10_000):  # a flood of callers never holds more than the cap
        buckets.take(n)
    assert len(buckets) == 3


def test_a_dropped_idle_bucket_changes_no_answer() -> None:
    clock = Clock()
    kept = TokenBuckets(RateLimitConfig(rate_per_s=2, burst=4, max_buckets=1_000), clock)
    tight = TokenBuckets(RateLimitConfig(rate_per_s=2, burst=4, max_buckets=1), clock)
    answers: list[tuple[float, float]] = []
    for step in range(200):
        clock.now += (step % 7) * 0.3
        answers.append((kept.take("a"), tight.take("a")))
        if step % 3 == 0:
            tight.take(f"x{step}")  # pushes "a" out of the one-bucket cap when idle
            clock.now += 2.0  # ... which "a" always is by then (full after 2 s)
    assert all(k == t for k, t in answers)


@pytest.mark.parametrize("bad", [
    {"rate_per_s": 0}, {"rate_per_s": -1}, {"rate_per_s": float("inf")},
    {"rate_per_s": 1, "burst": 0}, {"rate_per_s": 1, "max_buckets": 0}])
def test_bad_configs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="RateLimitConfig"):
        RateLimitConfig(**bad)


@pytest.mark.parametrize(("text", "rate"), [("10", 10.0), ("10/s", 10.0), ("120/min", 2.0),
                                            ("3600/h", 1.0), ("off", None)])
def test_parse_rate(text: str, rate: float | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["x", "-1/s", "5/fortnight", "nan", "1e999"])
def test_parse_rate_refuses_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match="--rate-limit"):
        parse_rate(text)


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b"ok 1\n" if scope["path"] == "/metrics" else b"{}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _call(app: Any, path: str = "/events", client: str = "10.0.0.1",
          headers: list[tuple[bytes, bytes]] | None = None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "headers": headers or [], "client": (client, 5000)}
    asyncio.run(app(scope, receive, send))
    return sent


def test_the_middleware_answers_429_per_key_or_address() -> None:
    clock = Clock()
    app = RateLimiter(_ok, RateLimitConfig(rate_per_s=0.5, burst=2, api_keys=(KEY, OTHER)),
                      clock)
    keyed = [(b"x-api-key", KEY.encode())]
    assert [_call(app, headers=keyed)[0]["status"] for _ in range(3)] == [200, 200, 429]
    refused = _call(app, headers=keyed)[0]
    assert refused["status"] == 429
    assert dict(refused["headers"])[b"retry-after"] == b"2"  # 1 token at 0.5/s
    # Another key, and the same key from another address, have their own bucket...
    assert _call(app, headers=[(b"x-api-key", OTHER.encode())])[0]["status"] == 200
    # ... and a made-up key is limited by address, not given a fresh bucket each time.
    made_up = [_call(app, client="10.0.0.9", headers=[(b"x-api-key", f"k{n}".encode())])
               for n in range(4)]
    assert [m[0]["status"] for m in made_up] == [200, 200, 429, 429]
    clock.now += 2.0
    assert _call(app, headers=keyed)[0]["status"] == 200


def test_health_and_metrics_are_never_limited_and_metrics_count_refusals() -> None:
    app = RateLimiter(_ok, RateLimitConfig(rate_per_s=1, burst=1), Clock())
    _call(app)
    _call(app)
    for _ in range(5):
        assert _call(app, "/health")[0]["status"] == 200
    start, body = _call(app, "/metrics")
    text = body["body"].decode()
    assert text.startswith("ok 1\n")
    assert "shopstream_rate_limited_total 1\n" in text
    assert "shopstream_rate_limit_buckets 1\n" in text
    assert dict(start["headers"])[b"content-length"] == str(len(body["body"])).encode()


def test_serve_answers_429_with_retry_after_and_counts_it(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          rate_limit_per_s=2.0, rate_burst=3))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            event = {"eventType": "PAGE_VIEW", "sessionId": "s",
                     "timestamp": int(time.time() * 1000) - 1_000}
            codes = [http.post("/events", json=event).status_code for _ in range(6)]
            assert codes[:3] == [202, 202, 202]
            assert 429 in codes[3:]
            refused = http.get("/trending")
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert "rate limit exceeded" in refused.json()["detail"]
            assert http.get("/health").status_code == 200
            metrics = http.get("/metrics")
            assert metrics.status_code == 200
            count = next(line for line in metrics.text.splitlines()
                         if line.startswith("shopstream_rate_limited_total "))
            assert int(count.split()[1]) >= 2
            statuses = []
            for _ in range(6):  # each handshake takes a token: the burst runs out
                try:
                    with connect(server.url.replace("http", "ws") + "/ws", open_timeout=5):
                        statuses.append(101)
                except InvalidStatus as refused_ws:
                    statuses.append(refused_ws.response.status_code)
            assert 429 in statuses and set(statuses) <= {101, 429}, statuses
            time.sleep(1.1)
            assert http.post("/events", json=event).status_code == 202
    finally:
        server.stop()


def test_no_rate_limit_by_default(tmp_path: Path) -> None:
    assert ServeConfig(store=str(tmp_path / "f.db")).rate_limit is None
