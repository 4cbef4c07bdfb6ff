"""The ``shopstream`` command.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``; the module sets ``func`` on its parser to a function that
takes the parsed arguments and returns an exit code. Errors derived from
:class:`~shopstream.errors.ShopstreamError` are shown as one line, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from shopstream import __version__
from shopstream.errors import ShopstreamError

__all__ = ["main"]

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
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="shopstream",
        description="Real-time shopper intelligence and recommendations for online shops.",
    )
    parser.add_argument("--version", action="version", version=f"shopstream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"shopstream.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shopstream`` script; returns the process exit code."""
    parser = build_parser()
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
