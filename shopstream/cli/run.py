"""``shopstream run``: the default pipeline over a JSONL file or standard input."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from shopstream.cli import postgres_input
from shopstream.cli.evaluate import parse_weights
from shopstream.cli.input_limits import add_limit_arguments, input_limits
from shopstream.cli.insight_options import add_insight_arguments
from shopstream.cli.kafka_run import add_kafka_arguments, kafka_sink, run_from_kafka
from shopstream.cli.observability import add_metrics_arguments, observed_run
from shopstream.cli.preflight import require_store
from shopstream.cli.privacy_options import add_privacy_arguments, apply_privacy_options
from shopstream.cli.report import byte_progress, format_summary
from shopstream.cli.retention_options import add_retention_argument, retention_config
from shopstream.connectors.files import JsonlSource
from shopstream.connectors.webhook import WebhookConfig, WebhookTap
from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.operators.abandonment import AbandonmentConfig
from shopstream.operators.baskets import BasketConfig
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.fraud import FraudConfig
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.operators.revenue import RevenueConfig
from shopstream.operators.top_products import TopProductsConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.privacy.retention import RetentionConfig
from shopstream.profiles.trends import TrendsConfig
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.suite import RecommendConfig
from shopstream.redaction import redact, url_origin
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig, Tap
from shopstream.runners.embedded.summary import RunSummary
from shopstream.stores import open_store
from shopstream.stores.base import FeatureStore
from shopstream.stores.tap import StoreTap
from shopstream.topology import Topology

__all__ = ["register"]

#: The window sizes of ``--stats-window``, by name (revenue-stats and top-products).
WINDOW_SIZES: dict[str, int] = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run the default pipeline over shopper events",
        description="Run the default pipeline on the embedded runner. Reads JSONL shopper "
                    "events, writes one OUTPUT_DIR/<stream>.jsonl per output stream, and "
                    "sends lines that are not valid events to dead-letter.jsonl with the reason.",
    )
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--input", metavar="FILE|-",
                        help="JSONL events, one per line; '-' reads standard input")
    add_kafka_arguments(parser, inputs)
    postgres_input.add_arguments(parser, inputs)
    _add_checkpoint_arguments(parser)
    _add_operator_arguments(parser)
    _add_output_arguments(parser)
    add_store_arguments(parser)
    add_insight_arguments(parser, default=False)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as JSON instead of a table")
    add_limit_arguments(parser)
    add_metrics_arguments(parser)
    add_privacy_arguments(parser)
    add_retention_argument(parser)
    _add_engine_arguments(parser)
    parser.set_defaults(func=_run)



def _add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """--output-dir and the checkpoint options."""
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


def _add_operator_arguments(parser: argparse.ArgumentParser) -> None:
    """Event time, sessions, cart abandonment and fraud."""
    parser.add_argument("--out-of-orderness-ms", type=int, default=5_000, metavar="MS",
                        help="how late an event may arrive and still count (default 5000)")
    parser.add_argument("--session-gap-minutes", type=float, default=30.0, metavar="M",
                        help="event-time inactivity that ends a session (default 30)")
    parser.add_argument("--abandon-minutes", type=float, default=15.0, metavar="M",
                        help="a valuable cart with no purchase M minutes after its last add "
                             "goes to cart-abandonment (default 15)")
    parser.add_argument("--abandon-min-value", type=float, default=100.0, metavar="V",
                        help="value of an add (price x quantity) or of the cart that makes "
                             "a cart worth watching (default 100)")
    parser.add_argument("--high-value", type=float, default=1_000.0, metavar="V",
                        help="orders above V raise a HIGH_VALUE fraud alert (default 1000)")
    parser.add_argument("--fraud-by-device", action="store_true",
                        help="also flag identical orders by different customers on one "
                             "device (only if 'device' is a fingerprint, not a device type)")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Windows, recommendations and the webhook."""
    parser.add_argument("--stats-window", choices=sorted(WINDOW_SIZES), default="1m",
                        help="tumbling window of revenue-stats and top-products (default 1m)")
    parser.add_argument("--top-n", type=int, default=10, metavar="N",
                        help="products listed per top-products window (default 10)")
    parser.add_argument("--recommendations", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="run the trending and per-event recommendation operators "
                             "(streams product-recommendations, trending-products); on by "
                             "default, --no-recommendations for throughput")
    parser.add_argument("--blend-weights", metavar="S=W,...",
                        help="recommendation blend weights, e.g. CO_OCCURRENCE=1,PERSONAL=0.5 "
                             "(an A/B variant; default: the built-in weights)")
    parser.add_argument("--blend-variant", default="default", metavar="NAME",
                        help="variant name carried in every recommendation (default default)")
    parser.add_argument("--webhook-url", metavar="URL",
                        help="also POST each fraud alert as JSON to URL (retried with backoff "
                             "in the background)")
    parser.add_argument("--webhook-stream", action="append", metavar="STREAM",
                        help="stream to send to --webhook-url instead of fraud-alerts "
                             "(repeatable)")


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine (embedded or Flink), its parallelism and jars, and --lake."""
    parser.add_argument("--engine", choices=("embedded", "flink"), default="embedded",
                        help="embedded (default: one process) or flink (a PyFlink job on a "
                             "local mini-cluster; needs pip install 'shopstream[flink]' "
                             "and Java 17; files or --kafka)")
    parser.add_argument("--parallelism", type=int, default=1, metavar="N",
                        help="with --engine flink: parallel subtasks per keyed stage "
                             "(default 1)")
    parser.add_argument("--flink-connector-jar", action="append", default=[], metavar="JAR",
                        help="with --engine flink --kafka: a jar of the Flink Kafka connector "
                             "(repeatable; default $SHOPSTREAM_FLINK_CONNECTOR_JARS)")
    parser.add_argument("--lake", metavar="DIR",
                        help="also write the input events and every output stream as "
                             "Parquet under DIR (stream=NAME/date=YYYY-MM-DD/), flushed "
                             "at each checkpoint; needs pip install 'shopstream[lake]'. "
                             "DIR may be s3://BUCKET/PREFIX (AWS_* settings; needs "
                             "'shopstream[s3]'; docs/lake.md)")


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    """The pipeline configuration from the shared command-line options."""
    gap_ms = round(args.session_gap_minutes * 60_000)
    window_ms = WINDOW_SIZES[args.stats_window]
    return PipelineConfig(
        baskets=BasketConfig(session_gap_ms=gap_ms),
        abandonment=AbandonmentConfig(timeout_ms=round(args.abandon_minutes * 60_000),
                                      min_add_value=args.abandon_min_value,
                                      min_cart_value=args.abandon_min_value,
                                      session_gap_ms=gap_ms),
        fraud=FraudConfig(high_value=args.high_value),
        fraud_by_device=args.fraud_by_device,
        revenue=RevenueConfig(window_ms=window_ms),
        top_products=TopProductsConfig(window_ms=window_ms, top_n=args.top_n),
        features=features_config(args, gap_ms),
        recommendations=recommendations_config(args, gap_ms),
        profiles=ProfilesConfig() if getattr(args, "profiles", False) else None,
        trends=TrendsConfig() if getattr(args, "trends", False) else None,
    )



def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--store`` and ``--features/--no-features`` (shared with ``demo``)."""
    parser.add_argument("--store", metavar="PATH|redis://HOST:PORT",
                        help="also write shopper features (and recommendations) to this "
                             "store: a SQLite file, or a Redis server; implies --features")
    parser.add_argument("--features", action=argparse.BooleanOptionalAction, default=None,
                        help="run the live-shopper feature operators (stream "
                             "shopper-features); off by default unless --store is given")


def features_config(args: argparse.Namespace, gap_ms: int) -> FeaturesConfig | None:
    """The feature operators' configuration, or ``None`` when they are off."""
    wanted = getattr(args, "features", None)
    if wanted is None:
        wanted = bool(getattr(args, "store", None))
    return FeaturesConfig(session_gap_ms=gap_ms) if wanted else None


def recommendations_config(args: argparse.Namespace,
                           gap_ms: int) -> RecommendationsConfig | None:
    """The recommendation operators' configuration, or ``None`` when they are off."""
    if not getattr(args, "recommendations", True):
        return None
    weights = getattr(args, "blend_weights", None)
    variant = getattr(args, "blend_variant", "default")
    blend = (BlendConfig(variant=variant) if weights is None
             else BlendConfig(weights=parse_weights(weights, "--blend-weights"), variant=variant))
    return RecommendationsConfig(recommend=RecommendConfig(blend=blend),
                                 session_gap_ms=gap_ms)


def runner_config(args: argparse.Namespace) -> RunnerConfig:
    return RunnerConfig(out_of_orderness_ms=args.out_of_orderness_ms,
                        checkpoint_every_events=args.checkpoint_every,
                        checkpoint_every_seconds=args.checkpoint_seconds,
                        idle_ms=args.idle_ms)


def webhook_taps(args: argparse.Namespace, topology: Topology) -> list[WebhookTap]:
    """The webhook tap asked for with ``--webhook-url``, if any."""
    if not args.webhook_url:
        return []
    wanted = frozenset(args.webhook_stream or (streams.FRAUD_ALERTS,))
    unknown = sorted(wanted - set(topology.sink_streams))
    if unknown:
        msg = (f"--webhook-stream {unknown[0]!r} is not an output stream of the pipeline; "
               f"choose from {', '.join(topology.sink_streams)}")
        raise ConfigError(msg)
    return [WebhookTap(WebhookConfig(args.webhook_url, streams=wanted))]


def _run(args: argparse.Namespace) -> int:
    apply_privacy_options(args)  # before any decoder is built
    retention = retention_config(args)
    topology = default_topology(pipeline_config(args))
    if args.engine == "flink":
        return _run_flink(args, topology, retention)
    store = open_store(args.store) if args.store else None
    taps = _taps(args, topology, store, retention)
    lake = _lake_sink(args)
    observed = observed_run(args, store, taps)  # /metrics and /health, when wanted
    runner = EmbeddedRunner(topology, args.output_dir,
                            runner_config(args), checkpoint_dir=args.checkpoint_dir, taps=taps,
                            limits=input_limits(args), lake=lake)
    try:
        observed.start(runner)
        if args.kafka:
            summary = run_from_kafka(runner, args, observed.observer)
        elif args.postgres:
            summary = postgres_input.run_postgres(args, runner, observed.observer)
        else:
            size = JsonlSource(args.input).size()
            with byte_progress(size, "events", enabled=not args.no_progress) as progress:
                summary = runner.run(observed.file_source(args.input, runner),
                                     resume=args.resume, progress=progress)
    finally:
        observed.stop()
        for tap in taps:  # run() closes them; this covers a failure before it starts
            tap.close()
        if store is not None:
            store.close()
    _print_summary(args, summary, taps, store, lake)
    return 0


def _run_flink(args: argparse.Namespace, topology: Topology,
               retention: RetentionConfig | None) -> int:
    """``--engine flink``: refuse what only the embedded runner does, then run the job."""
    if args.lake:
        msg = "--lake works with --engine embedded only (for now)"
        raise ConfigError(msg)
    if retention is not None:
        msg = "--retention-config works with --engine embedded only (for now)"
        raise ConfigError(msg)
    from shopstream.runners.flink.command import run_on_flink

    return run_on_flink(args, topology, input_limits(args))


def _taps(args: argparse.Namespace, topology: Topology, store: FeatureStore | None,
          retention: RetentionConfig | None) -> list[Tap]:
    """The webhook, store and Kafka taps of the run (closes ``store`` when refused)."""
    taps: list[Tap] = list(webhook_taps(args, topology))
    if store is not None:
        if streams.SHOPPER_FEATURES not in topology.sink_streams:
            store.close()
            msg = "--store needs the feature operators: drop --no-features"
            raise ConfigError(msg)
        require_store(store)
        taps.append(StoreTap(store, retention=retention))
    if args.kafka:
        taps.append(kafka_sink(args, topology))
    return taps


def _print_summary(args: argparse.Namespace, summary: RunSummary, taps: list[Tap],
                   store: FeatureStore | None, lake: Any) -> None:
    """The run's summary (``--json``: one JSON object), webhooks, store and lake."""
    # A webhook's path or query may be its token (Slack-style hooks): the host alone.
    hooks = {url_origin(tap.config.url): asdict(tap.stats())
             for tap in taps if isinstance(tap, WebhookTap)}
    lake_stats = ({"directory": redact(args.lake), "rows": lake.rows, "files": lake.files}
                  if lake is not None else None)
    if args.json:
        print(json.dumps(asdict(summary) | {"events_per_second": summary.events_per_second}
                         | ({"webhooks": hooks} if hooks else {})
                         | ({"lake": lake_stats} if lake_stats else {}), indent=2))
    else:
        format_summary(summary, sys.stdout)
        for url, counts in hooks.items():
            print(f"webhook {url}: {counts['delivered']:,} delivered, {counts['failed']:,} "
                  f"failed, {counts['dropped']:,} dropped, {counts['retries']:,} retries")
        if store is not None:
            written = sum(t.written for t in taps if isinstance(t, StoreTap))
            print(f"store {store.url}: {written:,} feature values written")
        if lake is not None:
            print(f"lake {redact(args.lake)}: {sum(lake.rows.values()):,} rows in "
                  f"{lake.files:,} Parquet files")


def _lake_sink(args: argparse.Namespace) -> Any:
    """The Parquet sink of ``--lake``, or ``None`` (imported only when asked for)."""
    if not getattr(args, "lake", None):
        return None
    from shopstream.cli.lake import lake_sink

    return lake_sink(args.lake, args)
