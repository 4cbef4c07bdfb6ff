"""``shopstream serve``: the HTTP API over a feature store, with its own ingest pipeline."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve live features and recommendations over HTTP and WebSocket",
        description="Start the HTTP API (OpenAPI docs at /docs) in front of a feature store. "
                    "With one worker it also hosts the pipeline: events sent with POST "
                    "/events are validated, processed, written to the store and pushed to "
                    "WebSocket subscribers (/ws).",
    )
    parser.add_argument("--store", required=True, metavar="PATH|redis://HOST:PORT",
                        help="the store `shopstream run --store` writes: a SQLite file or a "
                             "Redis server")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on "
                                                             "(default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes (default 1); with more than one the "
                             "processes only read the store and POST /events is refused, "
                             "unless --kafka forwards events to a topic")
    parser.add_argument("--out-of-orderness-ms", type=int, default=5_000, metavar="MS",
                        help="watermark bound of the hosted pipeline (default 5000)")
    parser.add_argument("--idle-ms", type=int, default=1_000, metavar="MS",
                        help="after MS without events the watermark follows the wall clock "
                             "(default 1000)")
    parser.add_argument("--kafka", metavar="BOOTSTRAP",
                        help="host no pipeline: every worker produces posted events (and "
                             "Snowplow events) to --topic, for `shopstream run --kafka ... "
                             "--store` to process; works with any --workers")
    parser.add_argument("--topic", default="ecommerce-events",
                        help="input topic for --kafka (default ecommerce-events)")
    parser.add_argument("--postgres", metavar="DSN",
                        help="also serve the shop database's read API under /shop "
                             "(see `shopstream db`)")
    parser.add_argument("--log-level", default="warning",
                        choices=("critical", "error", "warning", "info", "debug"))
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from shopstream.api.server import ServeConfig, serve

    config = ServeConfig(store=args.store, host=args.host, port=args.port,
                         workers=args.workers, out_of_orderness_ms=args.out_of_orderness_ms,
                         idle_ms=args.idle_ms, log_level=args.log_level,
                         postgres=args.postgres, kafka=args.kafka, kafka_topic=args.topic)
    ingest = (f", posted events to Kafka {config.kafka} topic {config.kafka_topic}"
              if config.kafka else "")
    print(f"shopstream serve: http://{config.host}:{config.port} (docs at /docs), "
          f"store {config.store}, {config.workers} worker(s){ingest}", flush=True)
    serve(config)
    return 0
