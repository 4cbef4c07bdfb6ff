"""Command-line options for :class:`~shopstream.events.limits.InputLimits`.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_limit_arguments(parser)
>>> limits = input_limits(parser.parse_args(["--max-items", "50", "--max-ahead-hours", "2"]))
>>> limits.max_items, limits.max_ahead_ms
(50, 7200000)
>>> input_limits(parser.parse_args(["--max-ahead-hours", "off"])).max_ahead_ms is None
True
>>> input_limits(parser.parse_args(["--min-time", "2010-01-01"])).min_timestamp_ms
1262304000000
"""

from __future__ import annotations

import argparse

from shopstream.errors import ConfigError
from shopstream.events.limits import InputLimits
from shopstream.events.model import parse_timestamp_ms

__all__ = ["add_limit_arguments", "input_limits"]

_DEFAULTS = InputLimits()


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """The input-limit options; a line that breaks one goes to ``dead-letter``."""
    group = parser.add_argument_group(
        "input limits", "an event that breaks one goes to dead-letter with the reason")
    group.add_argument("--max-line-bytes", type=int, default=_DEFAULTS.max_line_bytes,
                       metavar="N", help="bytes of one event (default: %(default)s)")
    group.add_argument("--max-depth", type=int, default=_DEFAULTS.max_depth, metavar="N",
                       help="JSON nesting depth (default: %(default)s)")
    group.add_argument("--max-items", type=int, default=_DEFAULTS.max_items, metavar="N",
                       help="items of one purchase (default: %(default)s)")
    group.add_argument("--max-id-length", type=int, default=_DEFAULTS.max_id_length,
                       metavar="N", help="characters of an id (default: %(default)s)")
    group.add_argument("--max-price", type=float, default=_DEFAULTS.max_price, metavar="V",
                       help="largest price (default: %(default)g)")
    group.add_argument("--max-quantity", type=int, default=_DEFAULTS.max_quantity,
                       metavar="N", help="largest quantity (default: %(default)s)")
    group.add_argument("--max-cart-total", type=float, default=_DEFAULTS.max_cart_total,
                       metavar="V", help="largest cartTotal (default: %(default)g)")
    group.add_argument("--min-time", default="2000-01-01T00:00:00Z", metavar="ISO",
                       help="earliest event time (default: %(default)s)")
    group.add_argument("--max-ahead-hours", default="1", metavar="H|off",
                       help="how far an event may be ahead of the clock, or of the newest "
                            "event of a replayed file (default: %(default)s)")
    group.add_argument("--confirm-events", type=int, default=_DEFAULTS.confirm_events,
                       metavar="N", help="consecutive events ahead of a replay's window "
                       "that are taken as a real gap in the data (default: %(default)s)")


def input_limits(args: argparse.Namespace) -> InputLimits:
    """The :class:`InputLimits` of parsed options (a bad value raises ``ConfigError``)."""
    try:
        floor = parse_timestamp_ms(args.min_time)
    except ValueError:
        msg = f"--min-time {args.min_time!r} is neither epoch milliseconds nor ISO-8601"
        raise ConfigError(msg) from None
    ahead: int | None = None
    if str(args.max_ahead_hours).lower() != "off":
        try:
            hours = float(args.max_ahead_hours)
        except ValueError:
            hours = -1.0
        if not 0 <= hours <= 1e6:
            msg = f"--max-ahead-hours must be a number of hours >= 0 or 'off', got " \
                  f"{args.max_ahead_hours!r}"
            raise ConfigError(msg)
        ahead = round(hours * 3_600_000)
    return InputLimits(
        max_line_bytes=args.max_line_bytes, max_depth=args.max_depth, max_items=args.max_items,
        max_id_length=args.max_id_length, max_price=args.max_price,
        max_quantity=args.max_quantity, max_cart_total=args.max_cart_total,
        min_timestamp_ms=floor, max_ahead_ms=ahead, confirm_events=args.confirm_events)
