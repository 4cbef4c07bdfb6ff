"""Command-line options of the HTTP rate limit (``serve`` and ``collect``).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_rate_arguments(parser)
>>> rate_limit_config(parser.parse_args([]), ()) is None
True
>>> config = rate_limit_config(parser.parse_args(["--rate-limit", "20/s"]), ())
>>> config.rate_per_s, config.capacity
(20.0, 20)
>>> rate_limit_config(parser.parse_args(["--rate-limit", "600/min", "--rate-burst", "50"]),
...                   ()).capacity
50
"""

from __future__ import annotations

import argparse

from shopstream.api.rate_limit import RateLimitConfig, parse_rate

__all__ = ["add_rate_arguments", "rate_limit_config"]


def add_rate_arguments(parser: argparse.ArgumentParser) -> None:
    """``--rate-limit``, ``--rate-burst`` and ``--rate-buckets``."""
    group = parser.add_argument_group(
        "rate limit", "a token bucket per API key (or per client address without one); "
                      "over the rate: 429 with Retry-After; /health and /metrics are never "
                      "limited")
    group.add_argument("--rate-limit", default="off", metavar="N/s|N/min|off",
                       help="requests a caller may send (default: off)")
    group.add_argument("--rate-burst", type=int, metavar="N",
                       help="requests a caller may send at once (default: one second's "
                            "worth of --rate-limit)")
    group.add_argument("--rate-buckets", type=int, default=100_000, metavar="N",
                       help="callers remembered at once; idle ones are dropped first "
                            "(default 100000)")


def rate_limit_config(args: argparse.Namespace,
                      api_keys: tuple[str, ...]) -> RateLimitConfig | None:
    """The :class:`RateLimitConfig` of parsed options (``None``: no limit)."""
    rate = parse_rate(str(args.rate_limit))
    if rate is None:
        return None
    return RateLimitConfig(rate, args.rate_burst, args.rate_buckets, api_keys)
