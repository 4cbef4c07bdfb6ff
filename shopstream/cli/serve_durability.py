"""Options of ``shopstream serve`` for backpressure and durability (see docs/durability.md).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_durability_arguments(parser)
>>> args = parser.parse_args(["--checkpoint-dir", "ck", "--max-pending-events", "5000"])
>>> sorted(durability_options(args).items())  # doctest: +NORMALIZE_WHITESPACE
[('checkpoint_dir', 'ck'), ('checkpoint_every', 100000), ('checkpoint_seconds', 30.0),
 ('max_buffered_events', 200000), ('max_pending_events', 5000), ('pipeline_nice', 0),
 ('store_commit_ms', 250), ('wal_segment_bytes', 67108864)]
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_durability_arguments", "durability_options"]


def add_durability_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-pending-events``, ``--max-buffered-events``, ``--checkpoint-dir``, the
    checkpoint intervals, ``--store-commit-ms`` and ``--pipeline-nice``."""
    group = parser.add_argument_group(
        "backpressure and durability",
        "Accepted events wait for the hosted pipeline in a bounded queue; when it is full "
        "POST /events and the collector answer 503 with Retry-After. With --checkpoint-dir "
        "each accepted event is in a write-ahead log (fsync, group commit) before its 202, "
        "the pipeline checkpoints there, and a restart with the same directory resumes "
        "from the checkpoint and replays the log.")
    group.add_argument("--max-pending-events", type=int, default=200_000, metavar="N",
                       help="events accepted and not yet processed before answering 503 "
                            "(default 200000)")
    group.add_argument("--max-buffered-events", type=int, default=200_000, metavar="N",
                       help="events the pipeline may hold until the watermark passes them "
                            "(they arrive up to --out-of-orderness-ms apart), on top of "
                            "the pending ones; beyond, 503. Memory stays bounded whatever "
                            "the rate; the rate sustained is at most N per "
                            "out-of-orderness bound (default 200000: 40000/s at 5 s)")
    group.add_argument("--checkpoint-dir", metavar="DIR",
                       help="write-ahead log and checkpoints here; a restart resumes from "
                            "them (default: none, 202 means queued in memory)")
    group.add_argument("--checkpoint-every", type=int, default=100_000, metavar="N",
                       help="checkpoint every N events (default 100000)")
    group.add_argument("--checkpoint-seconds", type=float, default=30.0, metavar="S",
                       help="... or every S seconds with new input, whichever comes first "
                            "(default 30)")
    group.add_argument("--wal-segment-bytes", type=int, default=64 * 1024 * 1024,
                       metavar="N", help="size of one write-ahead log segment; segments "
                                         "a checkpoint covers are deleted (default 64 MiB)")
    group.add_argument("--store-commit-ms", type=int, default=250, metavar="MS",
                       help="longest a computed value waits for the store's commit; values "
                            "of many requests share one commit, so reads re-read less "
                            "(default 250; 0: a commit after every request)")
    group.add_argument("--pipeline-nice", type=int, default=0, metavar="N",
                       help="lower the pipeline thread's priority by N (0..19), so read "
                            "workers get the CPU first (default 0: unchanged)")


def durability_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ServeConfig`` fields of :func:`add_durability_arguments`' options."""
    return {"max_pending_events": args.max_pending_events,
            "max_buffered_events": args.max_buffered_events,
            "checkpoint_dir": args.checkpoint_dir,
            "checkpoint_every": args.checkpoint_every,
            "checkpoint_seconds": args.checkpoint_seconds,
            "wal_segment_bytes": args.wal_segment_bytes,
            "store_commit_ms": args.store_commit_ms,
            "pipeline_nice": args.pipeline_nice}
