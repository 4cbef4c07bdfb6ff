"""``shopstream run --postgres DSN``: the options and the run of the CDC source.

Kept apart from ``run.py`` so that command only chooses its input. An unbounded run ends
on SIGINT or SIGTERM by ending the source, so the runner takes its last checkpoint and
the slot is confirmed up to it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from shopstream.cli.signals import stop_on_signals
from shopstream.connectors.postgres_cdc import PostgresCdcConfig, PostgresCdcSource, safe_dsn
from shopstream.runners.embedded.runner import EmbeddedRunner, RunSummary

if TYPE_CHECKING:
    from shopstream.api.run_metrics import RunObserver

__all__ = ["add_arguments", "run_postgres"]


def add_arguments(parser: argparse.ArgumentParser, inputs: Any) -> None:
    """``--postgres`` in the input group, and the options that go with it."""
    inputs.add_argument("--postgres", metavar="DSN",
                        help="stream the shop database's committed changes (logical "
                             "replication with wal2json; see `shopstream db`)")
    parser.add_argument("--slot", default="shopstream", metavar="NAME",
                        help="--postgres: replication slot, created on first use "
                             "(default shopstream)")
    # --stop-when-idle and --idle-ms are shared with --kafka (see kafka_run).


def run_postgres(args: argparse.Namespace, runner: EmbeddedRunner,
                 observer: RunObserver | None = None) -> RunSummary:
    """Run ``runner`` over the CDC source that ``args`` describe; ``observer``
    (``/metrics``) counts the changes read."""
    from shopstream.cli.preflight import require_postgres

    require_postgres(args.postgres)
    source = PostgresCdcSource(PostgresCdcConfig(
        dsn=args.postgres, slot=args.slot, stop_when_idle_s=args.stop_when_idle))
    if runner.checkpoints is None:
        print("shopstream run: note: without --checkpoint-dir the slot is never confirmed, "
              "so the next run reads the same changes again", file=sys.stderr)
    if observer is not None:  # the source itself, whose clock of silence the runner reads
        observer.set_events_in(lambda: source.records)
        # /health hides URL passwords; a quoted key=value one is hidden here.
        observer.urls["postgres"] = safe_dsn(args.postgres)
    with stop_on_signals(source.stop):
        return runner.run(source, resume=args.resume)
