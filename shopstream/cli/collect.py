"""``shopstream collect``: only the HTTP collector (Snowplow tracker protocol and
canonical events), forwarding to Kafka and/or to a pipeline hosted in this process.

With ``--store`` and ``--checkpoint-dir`` the hosted pipeline is ``serve``'s, durable the
same way (:mod:`shopstream.api.ingest_log`): an accepted event is in the write-ahead log
before its answer, and a restart on the same directory resumes from the checkpoint and
replays the log, so an event answered 202 (or 200 by ``tp2``, or a GIF by ``/i``)
survives a SIGKILL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shopstream.cli.input_limits import add_limit_arguments, input_limits
from shopstream.cli.rate_options import add_rate_arguments, rate_limit_config
from shopstream.cli.serve import add_security_arguments, security_options
from shopstream.cli.serve_durability import add_durability_arguments
from shopstream.connectors.kafka_admin import DEFAULT_INPUT_TOPICS
from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.api.security import SecurityConfig

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "collect",
        help="serve the HTTP event collector (Snowplow trackers, POST /events)",
        description="Accept events over HTTP: Snowplow trackers (POST "
                    "/com.snowplowanalytics.snowplow/tp2, GET /i) and canonical JSON (POST "
                    "/events). Accepted events go to the Kafka input topic (--kafka) and/or "
                    "to a pipeline hosted here that writes a store (--store); events that "
                    "cannot be mapped go to dead-letter and the answer says why. GET "
                    "/metrics (Prometheus) and /health (JSON) watch it.",
    )
    parser.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="produce accepted events to --topic on this Kafka broker")
    parser.add_argument("--topic", default=DEFAULT_INPUT_TOPICS[0],
                        help=f"input topic for --kafka (default {DEFAULT_INPUT_TOPICS[0]})")
    parser.add_argument("--partitions", type=int, default=3, metavar="N",
                        help="partitions of the topics created when missing (default 3)")
    parser.add_argument("--store", metavar="PATH|redis://HOST:PORT",
                        help="also run the pipeline here, writing features and "
                             "recommendations to this store")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--log-level", default="warning",
                        choices=("critical", "error", "warning", "info", "debug"))
    add_security_arguments(parser)
    add_rate_arguments(parser)
    add_limit_arguments(parser)
    add_durability_arguments(parser)
    parser.set_defaults(func=_collect)


def _collect(args: argparse.Namespace) -> int:
    _check_arguments(args)
    from shopstream.api.collector import Collector, LiveTarget, collector_app
    from shopstream.api.connection_limits import ConnectionLimits, uvicorn_limit_options
    from shopstream.api.live import LivePipeline
    from shopstream.api.rate_limit import RateLimiter
    from shopstream.api.security import SecurityConfig
    from shopstream.errors import require
    from shopstream.stores.open import open_store

    options = security_options(args)
    security = SecurityConfig(options["api_keys"], options["read_keys"],
                              options["cors_origins"], options["max_body_bytes"])
    limits = ConnectionLimits(options["idle_timeout_s"], options["max_header_bytes"],
                              options["max_connections"])

    uvicorn = require("uvicorn", "shopstream[serve]")
    from shopstream.api.metrics_server import ObservedApp
    from shopstream.api.run_metrics import collect_observer
    from shopstream.cli.preflight import require_free_port, require_store

    require_free_port(args.host, args.port, "collect --port")
    limits_in = input_limits(args)
    rate = rate_limit_config(args, options["api_keys"])
    collector = Collector(limits=limits_in)
    store = None
    live = None
    try:
        if args.kafka:
            from shopstream.connectors.kafka_admin import KafkaConfig
            from shopstream.connectors.kafka_sink import KafkaEventWriter

            config = KafkaConfig(args.kafka, input_topics=(args.topic,),
                                 partitions=args.partitions)
            collector.targets.append(KafkaEventWriter(config, args.topic))
        if args.store:
            store = open_store(args.store)
            require_store(store)
            live = LivePipeline(store, _live_config(args, limits_in))
            live.start()
            collector.targets.append(LiveTarget(live))
        observer = collect_observer(collector, store, live, args.kafka)
        _print_banner(args, security)
        observed = ObservedApp(collector_app(collector, security), *_answers(observer, live))
        app: Any = observed if rate is None else RateLimiter(observed, rate)
        uvicorn.run(app, host=args.host, port=args.port,
                    log_level=args.log_level, access_log=False,
                    **uvicorn_limit_options(limits))
    finally:
        collector.close()
        if store is not None:
            store.close()
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse a run with nowhere for events to go, a port out of range, or
    --checkpoint-dir without --store."""
    if not args.kafka and not args.store:
        msg = "give --kafka BOOTSTRAP and/or --store PATH: accepted events need somewhere to go"
        raise ConfigError(msg)
    if not 0 <= args.port <= 65_535:
        msg = f"--port must be in 0..65535, got {args.port}"
        raise ConfigError(msg)
    if args.checkpoint_dir and not args.store:
        msg = ("--checkpoint-dir needs --store (it holds the hosted pipeline's write-ahead "
               "log; with --kafka alone the topic keeps accepted events)")
        raise ConfigError(msg)


def _print_banner(args: argparse.Namespace, security: SecurityConfig) -> None:
    """Where accepted events go (credentials redacted), and the security warning if any."""
    from shopstream.stores.open import redact_url

    where = ", ".join(filter(None, [
        args.kafka and f"Kafka {redact_url(args.kafka)} topic {args.topic}",
        args.store and f"pipeline with store {redact_url(args.store)}"
        + (f" (write-ahead log in {args.checkpoint_dir})" if args.checkpoint_dir
           else " (no --checkpoint-dir: accepted events wait in memory)")]))
    print(f"shopstream collect: http://{args.host}:{args.port} -> {where}", flush=True)
    warning = security.warning()
    if warning is not None:
        print(f"shopstream collect: {warning}", file=sys.stderr, flush=True)


def _live_config(args: argparse.Namespace, limits: Any) -> Any:
    """The hosted pipeline's configuration: serve's backpressure and durability options."""
    from shopstream.api.live import LiveConfig
    from shopstream.api.serve_checkpoints import ServeCheckpointConfig

    checkpoints = None
    if args.checkpoint_dir:
        checkpoints = ServeCheckpointConfig(args.checkpoint_dir, args.checkpoint_every,
                                            args.checkpoint_seconds, args.wal_segment_bytes)
    return LiveConfig(max_queue=args.max_pending_events,
                      max_buffered=args.max_buffered_events, checkpoints=checkpoints,
                      input_limits=limits)


def _answers(observer: Any, live: Any) -> tuple[Callable[[], str],
                                                 Callable[[], dict[str, Any]]]:
    """``/metrics`` and ``/health``: the observer's, plus the hosted pipeline's ingest
    numbers (accepted, refused, pending, replayed, the log and checkpoints) as serve's."""
    if live is None:
        return observer.metrics, observer.health

    def metrics() -> str:
        return str(observer.metrics()) + str(live.metrics_text())

    def health() -> dict[str, Any]:
        body: dict[str, Any] = observer.health()
        body["pipeline"] = live.status()
        return body

    return metrics, health
