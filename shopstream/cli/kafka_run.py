"""The Kafka side of ``shopstream run``: its options, its source and sink, and a run
that stops cleanly on SIGINT / SIGTERM.

``run.py`` only declares ``--kafka`` beside ``--input`` (one of them is required) and
hands over to :func:`run_from_kafka`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from shopstream.cli.signals import stop_on_signals
from shopstream.connectors.kafka_admin import DEFAULT_INPUT_TOPICS, KafkaConfig
from shopstream.connectors.kafka_sink import KafkaSink
from shopstream.connectors.kafka_source import KafkaSource, KafkaSourceConfig
from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.runners.embedded.runner import EmbeddedRunner, RunSummary

if TYPE_CHECKING:
    from shopstream.api.run_metrics import RunObserver
from shopstream.topology import Topology

#: librdkafka's largest ``message.timeout.ms`` (2^31 - 1 ms), in whole seconds.
_MAX_OUTAGE_TIMEOUT_S = 2_147_483

__all__ = ["add_kafka_arguments", "kafka_config", "kafka_sink", "run_from_kafka"]


def add_kafka_arguments(parser: argparse.ArgumentParser, inputs: Any) -> None:
    """``--kafka`` in the mutually exclusive input group, and the options that go with it."""
    inputs.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="read the input topics from this Kafka broker (HOST:PORT) and "
                             "write every output stream to the topic of the same name")
    parser.add_argument("--input-topics", default=",".join(DEFAULT_INPUT_TOPICS),
                        metavar="T1,T2",
                        help="topics to read with --kafka (default "
                             f"{','.join(DEFAULT_INPUT_TOPICS)}); created when missing")
    parser.add_argument("--group", default="shopstream", metavar="ID",
                        help="consumer group that offsets are committed to after each "
                             "checkpoint (default shopstream)")
    parser.add_argument("--partitions", type=int, default=3, metavar="N",
                        help="partitions of the topics created when missing (default 3)")
    parser.add_argument("--kafka-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="keep retrying an unreachable broker (with backoff) this long "
                             "before giving up (default 30)")
    parser.add_argument("--kafka-outage-timeout", type=float, default=120.0,
                        metavar="SECONDS",
                        help="with --kafka: outputs the broker does not acknowledge within "
                             "SECONDS (a broker outage) stop the run before its checkpoint, "
                             "so --resume replays them; the consumer itself waits for the "
                             "broker as long as it takes (default 120)")
    parser.add_argument("--kafka-outage-grace", type=float, default=15.0, metavar="SECONDS",
                        help="with --kafka: after the broker comes back from an outage, "
                             "wait SECONDS more before its silence lets event time follow "
                             "the clock (--idle-ms), so events that producers held during "
                             "the outage and send once they reconnect are not late "
                             "(default 15: librdkafka producers reconnect within 15 s)")
    parser.add_argument("--stop-when-idle", type=float, metavar="SECONDS",
                        help="with --kafka or --postgres: end the run, as at the end of a "
                             "file, after SECONDS without input (default: run until "
                             "interrupted)")
    parser.add_argument("--idle-ms", type=int, default=5_000, metavar="MS",
                        help="with --kafka or --postgres: after MS without input the "
                             "watermark follows the wall clock, so a quiet spell still "
                             "closes windows; with --kafka, a partition without events "
                             "for MS stops holding the watermark back (default 5000)")


def kafka_config(args: argparse.Namespace) -> KafkaConfig:
    """The broker settings from the command line."""
    topics = tuple(t.strip() for t in args.input_topics.split(",") if t.strip())
    return KafkaConfig(args.kafka, input_topics=topics, group=args.group,
                       partitions=args.partitions, connect_timeout_s=args.kafka_timeout)


def kafka_sink(args: argparse.Namespace, topology: Topology) -> KafkaSink:
    """The tap writing every sink stream (dead letters and late events too) to Kafka."""
    outputs = (*topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS)
    clash = sorted(set(kafka_config(args).input_topics) & set(outputs))
    if clash:
        msg = f"--input-topics {clash[0]!r} is also an output topic: choose another name"
        raise ConfigError(msg)
    # The run's Kafka options are checked here, before any broker is asked anything.
    if not args.kafka_outage_grace >= 0:
        msg = f"--kafka-outage-grace must be >= 0 seconds, got {args.kafka_outage_grace!r}"
        raise ConfigError(msg)
    timeout = args.kafka_outage_timeout
    if not 0 < timeout <= _MAX_OUTAGE_TIMEOUT_S:
        msg = (f"--kafka-outage-timeout must be > 0 and <= {_MAX_OUTAGE_TIMEOUT_S} "
               f"(librdkafka's longest message timeout), got {timeout!r}")
        raise ConfigError(msg)
    return KafkaSink(kafka_config(args), outputs, flush_timeout_s=timeout)


def run_from_kafka(runner: EmbeddedRunner, args: argparse.Namespace,
                   observer: RunObserver | None = None) -> RunSummary:
    """Run ``runner`` over the input topics until interrupted (or idle, with
    ``--stop-when-idle``); SIGINT and SIGTERM end it with a final checkpoint.
    ``observer`` (``/metrics``) is given the consumer lag and the messages read."""
    if not args.checkpoint_dir:
        print("shopstream run: note: without --checkpoint-dir no offset is ever committed; "
              "a restart reads the topics again from the group's last commit or the start",
              file=sys.stderr)
    # Partitions keep event time with the engine's bound, and count as idle after the
    # same silence as the whole input.
    source = KafkaSource(kafka_config(args), KafkaSourceConfig(
        stop_when_idle_s=args.stop_when_idle,
        out_of_orderness_ms=runner.config.out_of_orderness_ms,
        idle_timeout_s=runner.config.idle_ms / 1000,
        outage_grace_s=args.kafka_outage_grace), limits=runner.limits)
    if observer is not None:
        observer.set_lag(source.lag)
        observer.set_events_in(lambda: source.messages)
        observer.urls["kafka"] = args.kafka
    with stop_on_signals(source.stop):
        return runner.run(source, resume=args.resume)
