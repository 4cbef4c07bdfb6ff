"""``shopstream run``: the default pipeline over a JSONL file or standard input."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from shopstream.cli.report import byte_progress, format_summary
from shopstream.connectors.files import JsonlSource
from shopstream.operators.baskets import BasketConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run the default pipeline over shopper events",
        description="Run the default pipeline on the embedded runner. Reads JSONL shopper "
                    "events, writes one OUTPUT_DIR/<stream>.jsonl per output stream, and "
                    "sends lines that are not valid events to dead-letter.jsonl with the reason.",
    )
    parser.add_argument("--input", required=True, metavar="FILE|-",
                        help="JSONL events, one per line; '-' reads standard input")
    parser.add_argument("--output-dir", required=True, metavar="DIR",
                        help="directory for the output streams (created if missing)")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="take checkpoints here so a killed run can --resume")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in --checkpoint-dir")
    parser.add_argument("--checkpoint-every", type=int, default=100_000, metavar="N",
                        help="checkpoint every N input lines (default 100000)")
    parser.add_argument("--checkpoint-seconds", type=float, default=30.0, metavar="S",
                        help="... or every S seconds, whichever comes first (default 30)")
    parser.add_argument("--out-of-orderness-ms", type=int, default=5_000, metavar="MS",
                        help="how late an event may arrive and still count (default 5000)")
    parser.add_argument("--session-gap-minutes", type=float, default=30.0, metavar="M",
                        help="event-time inactivity that ends a session (default 30)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as JSON instead of a table")
    parser.set_defaults(func=_run)


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    """The pipeline configuration from the shared command-line options."""
    gap_ms = round(args.session_gap_minutes * 60_000)
    return PipelineConfig(baskets=BasketConfig(session_gap_ms=gap_ms))


def runner_config(args: argparse.Namespace) -> RunnerConfig:
    return RunnerConfig(out_of_orderness_ms=args.out_of_orderness_ms,
                        checkpoint_every_events=args.checkpoint_every,
                        checkpoint_every_seconds=args.checkpoint_seconds)


def _run(args: argparse.Namespace) -> int:
    runner = EmbeddedRunner(default_topology(pipeline_config(args)), args.output_dir,
                            runner_config(args), checkpoint_dir=args.checkpoint_dir)
    size = JsonlSource(args.input).size()
    with byte_progress(size, "events", enabled=not args.no_progress) as progress:
        summary = runner.run(args.input, resume=args.resume, progress=progress)
    if args.json:
        print(json.dumps(asdict(summary) | {"events_per_second": summary.events_per_second},
                         indent=2))
    else:
        format_summary(summary, sys.stdout)
    return 0
