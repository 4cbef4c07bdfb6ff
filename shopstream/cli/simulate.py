"""``shopstream simulate``: write a realistic stream of shopper events as JSON lines.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="shopstream")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["simulate", "--sessions", "5", "--end", "2024-01-01T00:00:00Z"])
>>> build_config(args).end_ms
1704067200000
"""

from __future__ import annotations

import argparse
import re
import sys

from shopstream.errors import ConfigError
from shopstream.events.model import parse_timestamp_ms
from shopstream.sim.config import SimulationConfig
from shopstream.sim.writer import write_jsonl

__all__ = ["build_config", "register", "run"]

_DESCRIPTION = """\
Simulate an online shop: a seeded catalog (15 categories, Zipf popularity, hidden
bundles and complements) and shoppers whose sessions are coherent (add after view,
remove only what is in the cart, purchases carry their items). Writes one JSON event
per line, in timestamp order. Same arguments with --end give byte-identical output.
"""

_EPILOG = """\
examples:
  shopstream simulate --sessions 1000 --end 2024-06-01T00:00:00Z -o events.jsonl
  shopstream simulate --days 7 --sessions 50000 --bad-rate 0.01 -o week.jsonl
  shopstream simulate --rate 50 | shopstream run --input -
"""

# Option names of the config fields whose names differ from "--" + field.
_OPTION = {"end_ms": "--end"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` sub-command to ``subparsers``."""
    p = subparsers.add_parser(
        "simulate",
        help="generate a realistic stream of shopper events (JSONL)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sessions", type=int, default=1000, metavar="N",
                   help="number of shopping sessions (default: %(default)s)")
    p.add_argument("--days", type=float, default=0.0, metavar="D",
                   help="backfill history: spread session starts over the D days before "
                        "--end with a daily traffic curve; 0 = the last hour "
                        "(default: %(default)s)")
    p.add_argument("--end", metavar="TIME",
                   help="end of the time window, ISO-8601 or epoch ms "
                        "(default: now, truncated to the minute)")
    p.add_argument("--seed", type=int, default=42,
                   help="random seed; same arguments with --end give the same bytes "
                        "(default: %(default)s)")
    p.add_argument("--rate", type=float, metavar="R",
                   help="live mode: emit R events per second of wall clock with current "
                        "timestamps until the sessions are done or Ctrl-C")
    p.add_argument("--bad-rate", type=float, default=0.0, metavar="F",
                   help="fraction of lines that are malformed, every kind mixed in: not "
                        "JSON, truncated, missing eventType/sessionId/timestamp, unknown "
                        "eventType, negative price, non-numeric quantity, unparseable "
                        "timestamp (default: %(default)s)")
    p.add_argument("--disorder-ms", type=int, default=0, metavar="N",
                   help="deliver some events late, at most N ms behind newer ones "
                        "(default: %(default)s = sorted)")
    p.add_argument("--iso-timestamp-rate", type=float, default=0.0, metavar="F",
                   help="fraction of good lines with an ISO-8601 timestamp instead of "
                        "epoch ms (default: %(default)s)")
    p.add_argument("--products", type=int, default=1500, metavar="N",
                   help="catalog size (default: %(default)s)")
    p.add_argument("--shoppers", type=int, metavar="N",
                   help="initial shopper pool (default: a third of --sessions; it grows "
                        "when everyone picked is still mid-session)")
    p.add_argument("--currency", default="USD",
                   help="ISO 4217 currency of purchases (default: %(default)s)")
    p.add_argument("-o", "--output", default="-", metavar="FILE",
                   help="where to write, - for stdout (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown on stderr only when writing to a file)")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> SimulationConfig:
    """The :class:`SimulationConfig` for parsed arguments; errors name the option."""
    end_ms = None
    if args.end is not None:
        try:
            end_ms = parse_timestamp_ms(args.end)
        except ValueError as exc:
            msg = f"--end {args.end!r}: {exc}"
            raise ConfigError(msg) from None
    try:
        return SimulationConfig(
            sessions=args.sessions,
            days=args.days,
            seed=args.seed,
            end_ms=end_ms,
            rate=args.rate,
            bad_rate=args.bad_rate,
            disorder_ms=args.disorder_ms,
            iso_timestamp_rate=args.iso_timestamp_rate,
            products=args.products,
            shoppers=args.shoppers,
            currency=args.currency,
        )
    except ConfigError as exc:
        raise ConfigError(_as_option(str(exc))) from None


def run(args: argparse.Namespace) -> int:
    """Run ``shopstream simulate``; the summary line goes to stderr."""
    config = build_config(args)
    summary = write_jsonl(config, args.output, progress=False if args.no_progress else None)
    print(f"shopstream simulate: {summary.describe()}", file=sys.stderr)
    return 130 if summary.interrupted else 0


def _as_option(message: str) -> str:
    # "SimulationConfig.bad_rate must be ..." -> "--bad-rate must be ...": the user typed
    # the option, not the field.
    def option(match: re.Match[str]) -> str:
        field = match.group(1)
        return _OPTION.get(field, "--" + field.replace("_", "-"))

    return re.sub(r"SimulationConfig\.(\w+)", option, message)
