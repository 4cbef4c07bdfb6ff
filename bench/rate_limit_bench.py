"""Cost of the rate limiter per request, in this process; prints JSON.

Run: ``.venv/bin/python bench/rate_limit_bench.py [--requests 200000]``

Measures thread CPU time (``time.thread_time_ns``, so other work on the machine does not
count), median of 5 repeats, of:

- ``take``: one :meth:`TokenBuckets.take` for a caller among 1,000 (the common case);
- ``take_flood``: every request from a new caller with the cap at 10,000 buckets (each
  insertion evicts one: the worst case of the bounded memory);
- ``middleware``: one request through :class:`RateLimiter` in front of an ASGI app that
  answers at once (address-keyed), minus the same app called without the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from shopstream.api.rate_limit import RateLimitConfig, RateLimiter, TokenBuckets


def _median_ns(run: Any, n: int, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.thread_time_ns()
        run(n)
        samples.append((time.thread_time_ns() - start) / n)
    return statistics.median(samples)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    n = parser.parse_args().requests
    config = RateLimitConfig(rate_per_s=1e9, burst=10**9)
    buckets = TokenBuckets(config)

    def take(count: int) -> None:
        for i in range(count):
            buckets.take(i % 1_000)

    flood = TokenBuckets(RateLimitConfig(rate_per_s=1.0, burst=1, max_buckets=10_000))
    counter = iter(range(10**12))

    def take_flood(count: int) -> None:
        for _ in range(count):
            flood.take(next(counter))

    limiter = RateLimiter(_app, config)

    async def _send(message: dict[str, Any]) -> None:
        return None

    async def _receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    def calls(app: Any, count: int) -> None:
        async def loop() -> None:
            for i in range(count):
                scope = {"type": "http", "method": "GET", "path": "/trending",
                         "headers": [], "query_string": b"",
                         "client": (f"10.0.{i % 4}.{i % 250}", 1)}
                await app(scope, _receive, _send)
        asyncio.run(loop())

    plain = _median_ns(lambda c: calls(_app, c), n // 4)
    limited = _median_ns(lambda c: calls(limiter, c), n // 4)
    print(json.dumps({
        "measured": "thread CPU ns per request, median of 5 repeats",
        "requests": n,
        "take_ns": round(_median_ns(take, n)),
        "take_flood_ns": round(_median_ns(take_flood, n)),
        "middleware_added_ns": round(limited - plain),
        "buckets_after_flood": len(flood),
    }))


if __name__ == "__main__":
    main()
