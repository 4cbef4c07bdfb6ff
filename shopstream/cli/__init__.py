"""The ``shopstream`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; the module sets ``func`` on its parser to a function that
takes the parsed arguments and returns an exit code. Errors derived from
:class:`~shopstream.errors.ShopstreamError` are shown as one line, never a traceback.

Only the module of the sub-command being run is imported: importing them all costs
about 0.4 s (the simulator, the runners, the API), more than a whole ``rules mine`` of
the Instacart sample. The top-level help, and an unknown name, still load them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shopstream import __version__
from shopstream.errors import ShopstreamError

__all__ = ["build_parser", "main", "requested_command"]

# Sub-command modules, in the order `shopstream --help` lists them.
COMMANDS: tuple[str, ...] = (
    "simulate",
    "run",
    "demo",
    "serve",
    "rules",
    "datasets",
    "evaluate",
    "broker",
    "collect",
    "db",
    "lake",
    "sql",
    "report",
    "flink",
    "jobs",
    "ltv",
    "erase",
)


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with ``commands`` registered (default: every sub-command).

    Examples
    --------
    >>> parser = build_parser(["rules"])
    >>> parser.parse_args(["rules", "mine", "--baskets", "b.csv", "--output", "r.jsonl"]
    ...                   ).min_support
    0.01
    """
    parser = argparse.ArgumentParser(
        prog="shopstream",
        description="Real-time shopper intelligence and recommendations for online shops.",
    )
    parser.add_argument("--version", action="version", version=f"shopstream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if commands is None else commands:
        module = importlib.import_module(f"shopstream.cli.{name}")
        module.register(sub)
    return parser


def requested_command(argv: Sequence[str]) -> str | None:
    """The known sub-command ``argv`` runs, or ``None`` (help, version, unknown name).

    The top-level options take no value, so the first argument that is not an option
    names the sub-command; the top-level help before it lists every sub-command.

    Examples
    --------
    >>> requested_command(["rules", "mine", "--help"]), requested_command(["--version"])
    ('rules', None)
    >>> requested_command(["nope"]), requested_command(["-h", "rules"])
    (None, None)
    """
    for arg in argv:
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shopstream`` script; returns the process exit code."""
    if argv is None:
        argv = sys.argv[1:]
    command = requested_command(argv)
    parser = build_parser(None if command is None else (command,))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ShopstreamError as exc:
        print(f"shopstream {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"shopstream {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
