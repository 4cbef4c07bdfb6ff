"""``shopstream demo``: simulate a shop's traffic and run the default pipeline on it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopstream.cli.live_demo import add_serve_arguments, serve_live
from shopstream.cli.report import byte_progress, format_summary
from shopstream.events import streams
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunSummary
from shopstream.sim.config import SimulationConfig
from shopstream.sim.writer import write_jsonl

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="simulate a shop and run the pipeline on it, end to end",
        description="Generate a realistic day of a shop's traffic with the simulator "
                    "(including a few malformed and out-of-order events), run the default "
                    "pipeline on the embedded runner with checkpoints, and print what came "
                    "out and where the output streams were written.",
    )
    parser.add_argument("--sessions", type=int, default=40_000, metavar="N",
                        help="shopping sessions to simulate (default 40000, ~200k events)")
    parser.add_argument("--days", type=float, default=1.0, metavar="D",
                        help="days of history the sessions are spread over (default 1)")
    parser.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    parser.add_argument("--bad-rate", type=float, default=0.005, metavar="F",
                        help="fraction of malformed lines (default 0.005)")
    parser.add_argument("--disorder-ms", type=int, default=2_000, metavar="MS",
                        help="how far events may arrive out of order (default 2000)")
    parser.add_argument("--output-dir", default="out/demo", metavar="DIR",
                        help="where events, output streams and checkpoints go "
                             "(default out/demo)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_serve_arguments(parser)
    parser.set_defaults(func=_demo)


def command_name(argv0: str | None = None, path: str | None = None) -> str:
    """How to type this command again: ``shopstream`` when this script's directory is on
    the ``PATH``, else its path (``.venv/bin/shopstream`` from the checkout).

    Examples
    --------
    >>> command_name("/repo/.venv/bin/shopstream", "/usr/bin:/bin")
    '/repo/.venv/bin/shopstream'
    >>> command_name("/repo/.venv/bin/shopstream", "/repo/.venv/bin:/usr/bin")
    'shopstream'
    """
    script = Path(sys.argv[0] if argv0 is None else argv0)
    if script.name != "shopstream":
        return "shopstream"  # python -m shopstream.cli, or a test
    dirs = (os.environ.get("PATH", "") if path is None else path).split(os.pathsep)
    if str(script.parent) in dirs:
        return "shopstream"
    try:
        return str(script.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _demo(args: argparse.Namespace) -> int:
    root = Path(args.output_dir)
    events = root / "events.jsonl"
    streams_dir = root / "streams"
    checkpoints = root / "checkpoints"
    config = SimulationConfig(sessions=args.sessions, days=args.days, seed=args.seed,
                              bad_rate=args.bad_rate, disorder_ms=args.disorder_ms)
    root.mkdir(parents=True, exist_ok=True)
    steps = 2 if args.no_serve else 3
    print(f"1/{steps} simulating {args.sessions:,} sessions over {args.days:g} day(s) "
          f"(seed {args.seed}) -> {events}")
    sim = write_jsonl(config, events, progress=not args.no_progress)
    print(f"    {sim.describe()}")

    print(f"2/{steps} running the default pipeline on the embedded runner -> {streams_dir}/")
    shutil.rmtree(checkpoints, ignore_errors=True)
    runner = EmbeddedRunner(default_topology(), streams_dir, checkpoint_dir=checkpoints)
    with byte_progress(events.stat().st_size, "events",
                       enabled=not args.no_progress) as progress:
        summary = runner.run(events, progress=progress)
    print()
    format_summary(summary, sys.stdout)
    _show_samples(summary)
    print()
    print(f"next: {command_name()} run --input {events} --output-dir DIR  (see --help)")
    if not args.no_serve:
        print()
        serve_live(args, root)
    return 0


def _show_samples(summary: RunSummary) -> None:
    """One line each about the largest completed basket and the first dead letter."""
    biggest: dict[str, Any] | None = None
    with open(summary.files[streams.BASKET_COMPLETIONS], "rb") as handle:
        for line in handle:
            record = json.loads(line)
            if biggest is None or record["totalValue"] > biggest["totalValue"]:
                biggest = record
    if biggest is not None:
        names = ", ".join(f"{i['quantity']} x {i['productName'] or i['productId']}"
                          for i in biggest["items"][:4])
        more = len(biggest["items"]) - 4
        print(f"largest basket: {biggest['totalValue']:,.2f} by {biggest['userId']} "
              f"({names}{f', +{more} more' if more > 0 else ''})")
    with open(summary.files[streams.DEAD_LETTER], "rb") as handle:
        first = handle.readline()
    if first:
        letter = json.loads(first)
        print(f"a dead letter: [{letter['stage']}] {letter['reason']}")
    _show_insights(summary)


def _show_insights(summary: RunSummary) -> None:
    """One line each about the busiest revenue window, a fraud alert and an abandoned cart."""
    best: dict[str, Any] | None = None
    for record in _records(summary, streams.REVENUE_STATS):
        if best is None or record["revenue"] > best["revenue"]:
            best = record
    if best is not None:
        start = datetime.fromtimestamp(best["windowStart"] / 1000, UTC)
        minutes = (best["windowEnd"] - best["windowStart"]) // 60_000
        print(f"best revenue window: {best['revenue']:,.2f} from {best['orderCount']} orders "
              f"({minutes} min from {start:%Y-%m-%d %H:%M} UTC)")
    for alert in _records(summary, streams.FRAUD_ALERTS):
        print(f"a fraud alert: {alert['rule']} ({alert['severity']}) for {alert['userId']}: "
              f"{alert['reason']}")
        break
    for cart in _records(summary, streams.CART_ABANDONMENT):
        picks = ", ".join(r["productName"] or r["productId"] for r in cart["recommendations"])
        print(f"an abandoned cart: {cart['cartValue']:,.2f} by {cart['userId']}, offer "
              f"{cart['offer']}" + (f", suggest {picks}" if picks else ""))
        break


def _records(summary: RunSummary, stream: str) -> Iterator[dict[str, Any]]:
    path = summary.files.get(stream)
    if path is None:
        return
    with open(path, "rb") as handle:
        for line in handle:
            yield json.loads(line)
