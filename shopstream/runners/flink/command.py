"""``shopstream run --engine flink``: the options the Flink runner takes, and its summary.

Options the Flink runner does not honour yet stop the command with one line naming them,
rather than being ignored.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from shopstream.events.limits import InputLimits
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.runner import FlinkConfig, FlinkRunner
from shopstream.runners.flink.support import check_supported
from shopstream.topology import Topology

__all__ = ["run_on_flink", "unsupported_options"]

#: Options of ``shopstream run`` the Flink runner cannot honour yet, with their default.
_UNSUPPORTED: tuple[tuple[str, str, Any], ...] = (
    ("kafka", "--kafka", None),
    ("postgres", "--postgres", None),
    ("checkpoint_dir", "--checkpoint-dir", None),
    ("resume", "--resume", False),
    ("store", "--store", None),
    ("webhook_url", "--webhook-url", None),
)


def unsupported_options(args: argparse.Namespace) -> list[str]:
    """The options given that ``--engine flink`` does not support yet.

    Examples
    --------
    >>> unsupported_options(argparse.Namespace(kafka=None, resume=True, input="-"))
    ['--resume', '--input -']
    """
    given = [flag for attr, flag, default in _UNSUPPORTED
             if getattr(args, attr, default) != default]
    if getattr(args, "input", None) == "-":
        given.append("--input -")
    return given


def run_on_flink(args: argparse.Namespace, topology: Topology,
                 limits: InputLimits | None = None) -> int:
    """Run ``topology`` over ``args.input`` on a local mini-cluster, decoding within
    ``limits``; print the summary."""
    given = unsupported_options(args)
    if given:
        msg = (f"--engine flink does not support {', '.join(given)} yet: run it on the "
               "embedded runner (the default)")
        raise FlinkUnsupportedError(msg)
    check_supported(topology)
    config = FlinkConfig(out_of_orderness_ms=args.out_of_orderness_ms,
                         parallelism=args.parallelism, limits=limits)
    summary = FlinkRunner(topology, args.output_dir, config).run(args.input)
    if args.json:
        print(json.dumps(asdict(summary) | {"events_per_second": summary.events_per_second},
                         indent=2))
        return 0
    out = sys.stdout
    print(f"engine         flink (mini-cluster, parallelism {summary.parallelism})", file=out)
    print(f"lines          {summary.lines:,}", file=out)
    print(f"job time       {summary.job_seconds:.1f} s "
          f"({summary.events_per_second:,.0f} lines/s; {summary.seconds:.1f} s with start-up)",
          file=out)
    for stream, count in summary.outputs.items():
        print(f"{stream:<22} {count:>10,}  {summary.files[stream]}", file=out)
    return 0
