"""``shopstream serve``: the HTTP API over a feature store, with its own ingest pipeline."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from shopstream.cli.serve_durability import add_durability_arguments, durability_options

if TYPE_CHECKING:
    from shopstream.privacy.retention import RetentionConfig

__all__ = ["add_security_arguments", "jobs_banner", "limit_options", "read_workers_option",
           "register", "security_options"]


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """API keys, CORS and request limits: the same options for ``serve`` and ``collect``."""
    group = parser.add_argument_group(
        "security", "API keys (from --api-key-file and/or the SHOPSTREAM_API_KEYS "
                    "environment variable, comma separated) open writes: POST /events, the "
                    "Snowplow collector and WebSocket subscriptions; send one as `X-API-Key: "
                    "KEY`, `Authorization: Bearer KEY` or ?api_key=KEY. Without keys anyone "
                    "may write (a warning says so at start).")
    group.add_argument("--api-key-file", metavar="FILE",
                       help="API keys, one a line (blank lines and # comments skipped), "
                            "at least 16 characters each")
    group.add_argument("--read-keys", action="store_true",
                       help="reads need a key too (default: reads are public; /health and "
                            "/docs always are)")
    group.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="web origin allowed to call the API from a browser, e.g. "
                            "https://shop.example (repeatable; * allows every origin, "
                            "without credentials); default: none")
    group.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, metavar="N",
                       help="largest request body (default 4194304; larger: 413)")
    group.add_argument("--idle-timeout", type=float, default=5.0, metavar="S",
                       help="close a connection silent for S seconds, or whose request "
                            "headers take longer (default 5)")
    group.add_argument("--max-header-bytes", type=int, default=16_384, metavar="N",
                       help="bytes of a request's headers (default 16384; at most 100 "
                            "headers)")
    group.add_argument("--max-connections", type=int, default=1_000, metavar="N",
                       help="connections and requests in progress; beyond, 503 "
                            "(default 1000)")


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ServeConfig`` fields of :func:`add_security_arguments`' options."""
    from shopstream.api.security import load_api_keys

    return {"api_keys": load_api_keys(args.api_key_file, os.environ),
            "read_keys": args.read_keys, "cors_origins": tuple(args.cors_origin),
            "max_body_bytes": args.max_body_bytes, "idle_timeout_s": args.idle_timeout,
            "max_header_bytes": args.max_header_bytes,
            "max_connections": args.max_connections}


def limit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ServeConfig`` fields of the input-limit and rate-limit options."""
    from shopstream.api.rate_limit import parse_rate
    from shopstream.cli.input_limits import input_limits

    return {"input_limits": input_limits(args), "rate_limit_per_s": parse_rate(args.rate_limit),
            "rate_burst": args.rate_burst, "rate_buckets": args.rate_buckets}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve live features and recommendations over HTTP and WebSocket",
        description="Start the HTTP API (OpenAPI docs at /docs) in front of a feature store. "
                    "With one worker it also hosts the pipeline: events sent with POST "
                    "/events are validated, processed, written to the store and pushed to "
                    "WebSocket subscribers (/ws).",
    )
    _add_process_arguments(parser)
    _add_source_arguments(parser)
    parser.add_argument("--log-level", default="warning",
                        choices=("critical", "error", "warning", "info", "debug"))
    add_security_arguments(parser)
    from shopstream.cli.input_limits import add_limit_arguments
    from shopstream.cli.rate_options import add_rate_arguments

    add_rate_arguments(parser)
    add_limit_arguments(parser)
    from shopstream.cli.insight_options import add_insight_arguments

    add_insight_arguments(parser, default=True)
    _add_jobs_arguments(parser)
    add_durability_arguments(parser)
    from shopstream.cli.privacy_options import add_privacy_arguments

    add_privacy_arguments(parser, erasure_log=True)
    from shopstream.cli.retention_options import add_retention_argument

    add_retention_argument(parser)
    parser.set_defaults(func=_serve)



def _add_process_arguments(parser: argparse.ArgumentParser) -> None:
    """--store, the address and the server and read-worker processes."""
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
    parser.add_argument("--read-workers", default="auto", metavar="N|auto",
                        help="processes answering reads (features, recommendations, "
                             "profiles, trends...) on --read-port beside the process "
                             "hosting the pipeline, with the store opened read-only, so "
                             "reads never wait for the pipeline; 0: none (default auto: "
                             "one per core but one, at most 4, when the pipeline is "
                             "hosted here; 0 on one core, with --workers above 1 or "
                             "--kafka)")
    parser.add_argument("--read-port", type=int, metavar="PORT",
                        help="port of the read workers (default: --port + 1); the main "
                             "port answers reads too")
    parser.add_argument("--read-slice-us", type=int, default=0, metavar="US",
                        help="time slice the read workers ask the scheduler for, 100 to "
                             "100000 microseconds (Linux 6.12+, no privilege needed): a "
                             "read worker woken by a request then preempts a busy "
                             "pipeline sooner; no CPU share changes (default 0: the "
                             "kernel's slice)")
    parser.add_argument("--read-rt-priority", type=int, default=0, metavar="1..99",
                        help="run each read worker's event-loop thread (only it: its "
                             "other threads and thread pools stay normal) SCHED_FIFO at "
                             "this priority (root or CAP_SYS_NICE): reads then never "
                             "wait behind normal processes, the pipeline's or anyone's; "
                             "the kernel still leaves others 5%% of each second (default "
                             "0: a normal process)")
    parser.add_argument("--read-cpus", type=_cpus, default=(), metavar="LIST",
                        help="CPUs the read workers run on, e.g. 1 or 2,3 (default: any)")
    parser.add_argument("--pipeline-cpus", type=_cpus, default=(), metavar="LIST",
                        help="CPUs the main process (pipeline, main port, jobs) runs on, "
                             "e.g. 0 (default: any)")


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The hosted pipeline's watermark, --kafka forwarding, --postgres and --lake."""
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
    parser.add_argument("--lake", metavar="DIR|s3://BUCKET/PREFIX",
                        help="also serve the named reports of this Parquet lake (a "
                             "directory or a lake on S3) under /reports (see `shopstream "
                             "report`)")


def _add_jobs_arguments(parser: argparse.ArgumentParser) -> None:
    """--jobs-config and --no-jobs."""
    parser.add_argument("--jobs-config", metavar="FILE",
                        help="schedules and settings of the scheduled jobs run beside the "
                             "pipeline, TOML or JSON (see docs/jobs.md; default: built-in)")
    parser.add_argument("--no-jobs", action="store_true",
                        help="do not run the scheduled jobs (they never run with --workers "
                             "above 1: run `shopstream jobs` beside)")


def _serve(args: argparse.Namespace) -> int:
    from shopstream.cli.privacy_options import apply_privacy_options

    apply_privacy_options(args)  # in the environment: every decoder and worker reads it
    from shopstream.cli.retention_options import retention_config

    retention = retention_config(args)
    from shopstream.api.server import ServeConfig, serve
    from shopstream.cli.preflight import require_free_port, require_store
    from shopstream.stores.open import open_store, redact_url

    require_free_port(args.host, args.port, "serve --port")
    preflight_store = open_store(args.store)
    try:
        require_store(preflight_store)
    finally:
        preflight_store.close()
    read_workers = read_workers_option(args.read_workers, args.workers, args.kafka)
    config = ServeConfig(store=args.store, host=args.host, port=args.port,
                         workers=args.workers, read_workers=read_workers,
                         read_port=args.read_port, read_slice_us=args.read_slice_us,
                         read_rt_priority=args.read_rt_priority,
                         read_cpus=args.read_cpus, pipeline_cpus=args.pipeline_cpus,
                         out_of_orderness_ms=args.out_of_orderness_ms,
                         idle_ms=args.idle_ms, log_level=args.log_level,
                         postgres=args.postgres, kafka=args.kafka, kafka_topic=args.topic,
                         lake=args.lake, profiles=args.profiles, trends=args.trends,
                         store_days=retention.store_days if retention is not None else None,
                         **limit_options(args),
                         **security_options(args), **durability_options(args))
    if config.read_workers:
        require_free_port(config.host, config.reads_port, "serve --read-port")
    ingest = (f", posted events to Kafka {config.kafka} topic {config.kafka_topic}"
              if config.kafka else "")
    keys = (f"{len(config.api_keys)} API key(s) for writes"
            f"{' and reads' if config.read_keys else ''}" if config.api_keys
            else "no API keys: open to anyone")
    print(f"shopstream serve: http://{config.host}:{config.port} (docs at /docs), "
          f"store {redact_url(config.store)}, {config.workers} worker(s){ingest}, {keys}",
          flush=True)
    print(jobs_banner(args.no_jobs, config.workers, config.store, retention,
                      pipeline=config.workers == 1 and not config.kafka), flush=True)
    from shopstream.jobs import serve_hook

    hosted = not args.no_jobs and config.workers == 1
    serve(config, jobs=serve_hook(args.jobs_config, config.lake, retention) if hosted
          else None)
    return 0


def _cpus(value: str) -> tuple[int, ...]:
    """``--read-cpus``/``--pipeline-cpus``: CPU numbers, comma separated.

    >>> _cpus("1"), _cpus("0,2")
    ((1,), (0, 2))
    """
    try:
        cpus = tuple(int(part) for part in value.split(","))
    except ValueError:
        cpus = (-1,)
    if any(cpu < 0 for cpu in cpus):
        msg = f"expected CPU numbers, comma separated (e.g. 0 or 1,2), got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return cpus


def read_workers_option(value: str, workers: int, kafka: str | None) -> int:
    """``--read-workers``: a count, or ``auto`` (see
    :func:`~shopstream.api.read_workers.default_read_workers`).

    >>> read_workers_option("3", 1, None), read_workers_option("auto", 4, None)
    (3, 0)
    >>> read_workers_option("many", 1, None)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: --read-workers must be a count >= 0 or auto, got 'many'
    """
    from shopstream.api.read_workers import default_read_workers
    from shopstream.errors import ConfigError

    if value == "auto":
        return default_read_workers(os.cpu_count(), workers == 1 and not kafka)
    if not value.isdigit():
        msg = f"--read-workers must be a count >= 0 or auto, got {value!r}"
        raise ConfigError(msg)
    return int(value)


def jobs_banner(no_jobs: bool, workers: int, store: str,
                retention: RetentionConfig | None, pipeline: bool = True) -> str:
    """The start-up line saying whether this server runs the scheduled jobs (and, with
    ``--retention-config``, what it does with it; ``pipeline``: this server hosts the
    pipeline that writes the store).

    >>> print(jobs_banner(False, 4, "f.db", None, pipeline=False))
    scheduled jobs: NOT run with --workers 4 (no scheduler in worker processes): run \
`shopstream jobs --store f.db` beside this server
    >>> print(jobs_banner(False, 1, "f.db", None))
    scheduled jobs: run here (shopstream jobs list --store f.db; GET /jobs)
    """
    from shopstream.stores.open import redact_url

    where = redact_url(store)
    if no_jobs:
        line = f"scheduled jobs: not run (--no-jobs): run `shopstream jobs --store {where}`"
    elif workers > 1:
        line = (f"scheduled jobs: NOT run with --workers {workers} (no scheduler in worker "
                f"processes): run `shopstream jobs --store {where}` beside this server")
    else:
        line = f"scheduled jobs: run here (shopstream jobs list --store {where}; GET /jobs)"
    if retention is not None:
        line += (f"; store values live at most {retention.store_days} day(s)" if pipeline
                 else "; --retention-config: no store cap here (this server writes no "
                      "store values)")
    return line
