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

from shopstream.errors import ConfigError
from shopstream.events.limits import InputLimits
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.kafka import FlinkKafkaConfig, connector_jars
from shopstream.runners.flink.runner import FlinkConfig, FlinkRunner
from shopstream.runners.flink.settings import latest_checkpoint
from shopstream.runners.flink.support import check_supported
from shopstream.topology import Topology

__all__ = ["flink_config", "run_on_flink", "unsupported_options"]

#: Options of ``shopstream run`` the Flink runner cannot honour yet, with their default.
_UNSUPPORTED: tuple[tuple[str, str, Any], ...] = (
    ("stop_when_idle", "--stop-when-idle", None),
    ("postgres", "--postgres", None),
    ("store", "--store", None),
    ("webhook_url", "--webhook-url", None),
)


def unsupported_options(args: argparse.Namespace) -> list[str]:
    """The options given that ``--engine flink`` does not support yet.

    Examples
    --------
    >>> unsupported_options(argparse.Namespace(kafka=None, store="x", input="-"))
    ['--store', '--input -']
    """
    given = [flag for attr, flag, default in _UNSUPPORTED
             if getattr(args, attr, default) != default]
    if getattr(args, "input", None) == "-":
        given.append("--input -")
    return given


def flink_config(args: argparse.Namespace, limits: InputLimits | None = None) -> FlinkConfig:
    """The :class:`FlinkConfig` of ``shopstream run --engine flink`` / ``flink submit``:
    checkpoints every ``--checkpoint-seconds`` into ``--checkpoint-dir``; ``--resume``
    starts from the newest complete checkpoint there, ``--from-checkpoint`` from the one
    named (a checkpoint or savepoint directory)."""
    checkpoint_dir = getattr(args, "checkpoint_dir", None)
    restore = getattr(args, "from_checkpoint", None)
    if getattr(args, "resume", False):
        if checkpoint_dir is None:
            msg = "--resume needs --checkpoint-dir"
            raise ConfigError(msg)
        if restore is None:
            restore = str(latest_checkpoint(checkpoint_dir))
    interval_ms = round(1000 * getattr(args, "checkpoint_seconds", 10.0))
    kafka = None
    if getattr(args, "kafka", None):
        kafka = FlinkKafkaConfig(
            args.kafka, tuple(t for t in args.input_topics.split(",") if t),
            group=args.group, jars=connector_jars(getattr(args, "flink_connector_jar", [])))
    return FlinkConfig(out_of_orderness_ms=args.out_of_orderness_ms,
                       parallelism=args.parallelism, limits=limits,
                       jobmanager=getattr(args, "jobmanager", None),
                       checkpoint_dir=checkpoint_dir,
                       checkpoint_interval_ms=max(10, interval_ms), restore_from=restore,
                       kafka=kafka)


def _ensure_topics(kafka: FlinkKafkaConfig, topology: Topology) -> None:
    # The Flink Kafka sink does not create topics; the embedded runner's admin does.
    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
    from shopstream.events import streams

    ensure_topics(KafkaConfig(kafka.bootstrap), [
        *kafka.input_topics, *topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS])


def run_on_flink(args: argparse.Namespace, topology: Topology,
                 limits: InputLimits | None = None) -> int:
    """Run ``topology`` over ``args.input`` on a local mini-cluster (or, with
    ``args.jobmanager``, a standalone cluster), decoding within ``limits``; print the
    summary, or the job id with ``args.detach``."""
    given = unsupported_options(args)
    if given:
        msg = (f"--engine flink does not support {', '.join(given)} yet: run it on the "
               "embedded runner (the default)")
        raise FlinkUnsupportedError(msg)
    check_supported(topology)
    config = flink_config(args, limits)
    if config.kafka is not None:
        _ensure_topics(config.kafka, topology)
    runner = FlinkRunner(topology, args.output_dir, config)
    where = (f"cluster {config.jobmanager}" if config.jobmanager else "mini-cluster")
    if getattr(args, "detach", False):
        job_id = runner.submit(None if config.kafka else args.input)
        if args.json:
            print(json.dumps({"job_id": job_id, "jobmanager": config.jobmanager}))
        else:
            print(f"submitted job {job_id} to {where}")
        return 0
    summary = runner.run(None if config.kafka else args.input)
    if args.json:
        print(json.dumps(asdict(summary) | {"events_per_second": summary.events_per_second},
                         indent=2))
        return 0
    out = sys.stdout
    print(f"engine         flink ({where}, parallelism {summary.parallelism})", file=out)
    if config.restore_from:
        print(f"restored from  {config.restore_from}", file=out)
    print(f"lines          {summary.lines:,}", file=out)
    print(f"job time       {summary.job_seconds:.1f} s "
          f"({summary.events_per_second:,.0f} lines/s; {summary.seconds:.1f} s with start-up)",
          file=out)
    if config.kafka is not None:
        print(f"outputs        a topic per stream at {config.kafka.bootstrap}", file=out)
    for stream, count in summary.outputs.items():
        print(f"{stream:<22} {count:>10,}  {summary.files[stream]}", file=out)
    return 0
