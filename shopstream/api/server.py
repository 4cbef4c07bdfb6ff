"""Run the API with uvicorn: ``shopstream serve`` and ``shopstream demo`` use this.

With one worker (the default) the process also hosts the pipeline fed by
``POST /events``, writing to the same store. With ``workers > 1`` uvicorn forks worker
processes that only read the store (keyed operator state cannot be split across
processes at random), so ``POST /events`` and WebSocket pushes answer 503 there, unless
``kafka`` is set: then every worker produces posted events to the input topic, and
``shopstream run --kafka`` (one pipeline, keyed state in one place) writes the store.
With ``read_workers`` (``serve --read-workers N``) a one-worker server also starts
processes that answer reads on ``read_port`` from the store opened read-only, so no read
waits for the pipeline thread (:mod:`shopstream.api.read_workers`).

Who may call it is the config's :class:`~shopstream.api.security.SecurityConfig` (API
keys, CORS origins, body limit); how long and how much a connection may hold is its
:class:`~shopstream.api.connection_limits.ConnectionLimits`. Without keys the server is
open to anyone who reaches it, and says so at start.

Examples
--------
>>> ServeConfig(store="f.db", port=70000)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: ServeConfig.port must be in 0..65535, got 70000
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from shopstream.api.app import ServeState, create_app
from shopstream.api.connection_limits import ConnectionLimits, uvicorn_limit_options
from shopstream.api.fast_protocol import FastReadProtocol
from shopstream.api.live import LiveConfig, LivePipeline
from shopstream.api.live_config import SERVICE_LIMITS
from shopstream.api.rate_limit import RateLimitConfig, RateLimiter
from shopstream.api.read_workers import ReadWorkers
from shopstream.api.security import SecurityConfig
from shopstream.api.serve_checkpoints import ServeCheckpointConfig
from shopstream.api.thread_priority import check_scheduling, pin_pipeline
from shopstream.errors import ConfigError, require
from shopstream.events.limits import InputLimits
from shopstream.stores.open import open_store

__all__ = [
    "BackgroundServer",
    "ServeConfig",
    "app_from_env",
    "build_state",
    "serve",
    "server_app",
    "uvicorn_options",
]

_ENV = "SHOPSTREAM_SERVE_CONFIG"
log = logging.getLogger("shopstream.api")


@dataclass(frozen=True)
class ServeConfig:
    """Where to listen and which store to serve.

    Parameters
    ----------
    store
        A SQLite file path or ``redis://HOST:PORT``.
    host, port
        Listening address (default 127.0.0.1:8000; port 0 picks a free one).
    workers
        Server processes; only a single worker hosts the ingest pipeline.
    out_of_orderness_ms, idle_ms
        The hosted pipeline's watermark bound and idle advance (see ``LiveConfig``).
    postgres
        DSN of the shop database served under ``/shop`` (``None``: not served).
    lake
        The Parquet lake whose reports are served under ``/reports`` (``None``: 503).
    kafka, kafka_topic
        With a Kafka bootstrap, no pipeline is hosted: every worker validates posted
        events and produces them to ``kafka_topic`` (acknowledged before the answer), and
        ``shopstream run --kafka ... --store`` writes the store this server reads.
    api_keys, read_keys, cors_origins, max_body_bytes
        Who may call the server (see :class:`~shopstream.api.security.SecurityConfig`);
        no keys: anyone may, with a warning at start.
    idle_timeout_s, max_header_bytes, max_connections
        Limits of each connection (see
        :class:`~shopstream.api.connection_limits.ConnectionLimits`).
    max_pending_events
        Events accepted and not yet processed before ``POST /events`` answers 503.
    max_buffered_events
        Events the hosted pipeline may hold until the watermark passes them, on top of
        the pending ones; beyond, 503 (see ``LiveConfig.max_buffered``).
    checkpoint_dir, checkpoint_every, checkpoint_seconds, wal_segment_bytes
        With a directory, every accepted event is written to a write-ahead log before
        its 202, the pipeline checkpoints there, and a restart resumes from it (see
        :mod:`shopstream.api.serve_checkpoints`).
    input_limits
        What one posted event may contain (``serve --max-*``, see
        :class:`~shopstream.events.limits.InputLimits`); the floor is the year 2000.
    rate_limit_per_s, rate_burst, rate_buckets
        A token bucket per API key or client address (see
        :mod:`shopstream.api.rate_limit`); ``None``: no rate limit (the default).
    profiles, trends
        Whether the hosted pipeline keeps Customer 360 profiles and product/category
        trends (both on, so ``/users/{id}/profile`` and ``/products/{id}/trend`` answer).
    store_days
        The longest any value the hosted pipeline writes lives in the store (``serve
        --retention-config``'s ``store`` days); ``None``: the built-in times to live.
    read_workers, read_port, read_slice_us, read_rt_priority, read_cpus, pipeline_cpus
        Processes answering reads on ``read_port`` (``None``: ``port + 1``, any free port
        with ``port`` 0) beside the pipeline's (:mod:`shopstream.api.read_workers`); 0:
        none. Their slice, ``SCHED_FIFO`` priority and CPUs, the main process's CPUs (0
        and (): the kernel's; :mod:`shopstream.api.thread_priority`).
    store_commit_ms, pipeline_nice
        How long a computed value may wait for the store's commit, and how much lower the
        pipeline thread's priority is (``serve --store-commit-ms``, ``--pipeline-nice``;
        see :class:`~shopstream.api.live_config.LiveConfig`).
    """

    store: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    out_of_orderness_ms: int = 5_000
    idle_ms: int = 1_000
    log_level: str = "warning"
    postgres: str | None = None
    lake: str | None = None
    kafka: str | None = None
    kafka_topic: str = "ecommerce-events"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    read_keys: bool = False
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = SecurityConfig.max_body_bytes
    idle_timeout_s: float = ConnectionLimits.idle_timeout_s
    max_header_bytes: int = ConnectionLimits.max_header_bytes
    max_connections: int = ConnectionLimits.max_connections
    max_pending_events: int = LiveConfig.max_queue
    max_buffered_events: int = LiveConfig.max_buffered
    checkpoint_dir: str | None = None
    checkpoint_every: int = 100_000
    checkpoint_seconds: float = 30.0
    wal_segment_bytes: int = 64 * 1024 * 1024
    input_limits: InputLimits = SERVICE_LIMITS
    rate_limit_per_s: float | None = None
    rate_burst: int | None = None
    rate_buckets: int = 100_000
    profiles: bool = True
    trends: bool = True
    store_days: int | None = None
    read_workers: int = 0
    read_port: int | None = None
    read_slice_us: int = 0
    read_rt_priority: int = 0
    read_cpus: tuple[int, ...] = ()
    pipeline_cpus: tuple[int, ...] = ()
    store_commit_ms: int = LiveConfig.store_commit_ms
    pipeline_nice: int = LiveConfig.pipeline_nice

    def __post_init__(self) -> None:
        if isinstance(self.input_limits, dict):  # from the workers' JSON environment
            object.__setattr__(self, "input_limits", InputLimits(**self.input_limits))
        if not 0 <= self.port <= 65_535:
            msg = f"ServeConfig.port must be in 0..65535, got {self.port!r}"
            raise ConfigError(msg)
        if self.workers < 1:
            msg = f"ServeConfig.workers must be >= 1, got {self.workers!r}"
            raise ConfigError(msg)
        if self.read_workers < 0 or (self.read_workers and self.workers > 1):
            msg = (f"ServeConfig.read_workers must be >= 0, and 0 with more than one "
                   f"worker, got {self.read_workers!r} with {self.workers} worker(s)")
            raise ConfigError(msg)
        check_scheduling(self)  # CPU lists from the workers' JSON become tuples
        if not 0 <= self.reads_port <= 65_535 or (self.reads_port == self.port != 0):
            msg = (f"ServeConfig.read_port must be in 0..65535 and not the main port "
                   f"{self.port}, got {self.reads_port!r}")
            raise ConfigError(msg)
        _ = self.live  # validates it
        if self.checkpoint_dir is not None and (self.kafka or self.workers > 1):
            msg = ("ServeConfig.checkpoint_dir needs the hosted pipeline (one worker, no "
                   "kafka): with kafka the topic keeps posted events")
            raise ConfigError(msg)
        object.__setattr__(self, "api_keys", self.security.api_keys)
        object.__setattr__(self, "cors_origins", self.security.cors_origins)
        _ = self.limits  # validates them
        _ = self.rate_limit

    @property
    def reads_port(self) -> int:
        """The read workers' port: ``read_port``, or ``port + 1`` (0 with ``port`` 0)."""
        if self.read_port is not None:
            return self.read_port
        return self.port + 1 if 0 < self.port < 65_535 else 0

    @property
    def live(self) -> LiveConfig:
        checkpoints = None
        if self.checkpoint_dir is not None:
            checkpoints = ServeCheckpointConfig(self.checkpoint_dir, self.checkpoint_every,
                                                self.checkpoint_seconds,
                                                self.wal_segment_bytes)
        return LiveConfig(self.out_of_orderness_ms, self.idle_ms, self.max_pending_events,
                          max_buffered=self.max_buffered_events, checkpoints=checkpoints,
                          input_limits=self.input_limits,
                          profiles=self.profiles, trends=self.trends,
                          store_days=self.store_days, store_commit_ms=self.store_commit_ms,
                          pipeline_nice=self.pipeline_nice)

    @property
    def security(self) -> SecurityConfig:
        return SecurityConfig(self.api_keys, self.read_keys, self.cors_origins,
                              self.max_body_bytes)

    @property
    def rate_limit(self) -> RateLimitConfig | None:
        if self.rate_limit_per_s is None:
            return None
        return RateLimitConfig(self.rate_limit_per_s, self.rate_burst, self.rate_buckets,
                               self.api_keys)

    @property
    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(self.idle_timeout_s, self.max_header_bytes,
                                self.max_connections)


def build_state(config: ServeConfig, with_pipeline: bool = True) -> ServeState:
    """Open the store and, if asked, start the hosted pipeline."""
    store = open_store(config.store)
    live = None
    forward = None
    if config.kafka:
        from shopstream.connectors.kafka_admin import KafkaConfig
        from shopstream.connectors.kafka_sink import KafkaEventWriter

        try:
            forward = KafkaEventWriter(KafkaConfig(config.kafka,
                                                   input_topics=(config.kafka_topic,)),
                                       config.kafka_topic)
        except BaseException:
            store.close()
            raise
    elif with_pipeline:
        try:
            live = LivePipeline(store, config.live)
            live.start()
        except BaseException:
            store.close()
            raise
    return ServeState(store=store, live=live, postgres=config.postgres, forward=forward,
                      security=config.security, lake=config.lake,
                      input_limits=config.input_limits)


def uvicorn_options(config: ServeConfig) -> dict[str, Any]:
    """uvicorn's options for ``config`` (event loop, connection limits, logging)."""
    options: dict[str, Any] = {"host": config.host, "port": config.port,
                               "log_level": config.log_level, "access_log": False,
                               "lifespan": "on"}
    # The C event loop when present (uvicorn[standard]); the C HTTP parser comes with the
    # connection limits (uvicorn_limit_options), pure Python else.
    try:
        __import__("uvloop")
    except ImportError:
        pass
    else:
        options["loop"] = "uvloop"
    options |= uvicorn_limit_options(config.limits)
    if FastReadProtocol is not None:  # the hot reads answered in the protocol
        options["http"] = FastReadProtocol
    return options


def server_app(state: ServeState, config: ServeConfig) -> Any:
    """The app of ``state``, behind the rate limit when one is configured (the main
    process's and each read worker's: a rate limit counts per process)."""
    app = create_app(state)
    rate = config.rate_limit
    return app if rate is None else RateLimiter(app, rate)


def _warn_if_open(config: ServeConfig) -> None:
    warning = config.security.warning()
    if warning is not None:
        log.warning("shopstream serve on %s:%d: %s", config.host, config.port, warning)


def serve(config: ServeConfig, jobs: Any = None) -> None:
    """Serve until interrupted; the pipeline is drained and the store closed on the way out.

    ``jobs`` (one worker only), called with the state once the pipeline runs, starts the
    scheduled jobs and returns their stop (:func:`shopstream.jobs.serve_hook`)."""
    uvicorn = require("uvicorn", "shopstream[serve]")
    _warn_if_open(config)
    if config.workers > 1:
        os.environ[_ENV] = json.dumps(asdict(config))
        uvicorn.run("shopstream.api.server:app_from_env", factory=True,
                    workers=config.workers, **uvicorn_options(config))
        return
    pin_pipeline(config)  # before any thread starts: they inherit it
    state = build_state(config)
    try:
        state.read_workers = start_read_workers(config)
    except BaseException:
        _shutdown(state)
        raise
    app = server_app(state, config)
    stop_jobs = jobs(state) if jobs is not None else None
    # Everything built so far lives as long as the server: keep it out of the collector's
    # full passes, which otherwise show up as tail latency.
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(app, **uvicorn_options(config))
    finally:
        if stop_jobs is not None:
            stop_jobs()
        _shutdown(state)


def start_read_workers(config: ServeConfig) -> ReadWorkers | None:
    """Start ``config.read_workers`` read worker processes (``None`` when 0) and say
    where they listen."""
    if not config.read_workers:
        return None
    workers = ReadWorkers(config, config.read_workers, config.host, config.reads_port)
    workers.start()
    print(f"shopstream serve: reads also at {workers.url} ({config.read_workers} read "
          "worker process(es), store opened read-only; writes on the main port)",
          flush=True)
    return workers


def app_from_env() -> Any:
    """The app of one worker process of a multi-worker server (reads only)."""
    config = ServeConfig(**json.loads(os.environ[_ENV]))
    app = server_app(build_state(config, with_pipeline=False), config)
    gc.collect()
    gc.freeze()
    return app


def _shutdown(state: ServeState) -> None:
    if state.read_workers is not None:
        state.read_workers.stop()
    if state.live is not None:
        state.live.stop()
    if state.forward is not None:
        state.forward.close()
    state.store.close()


class BackgroundServer:
    """The API in a thread of this process (for ``demo`` and tests): ``start``, then ``url``.

    Examples
    --------
    >>> import tempfile, urllib.request
    >>> server = BackgroundServer(ServeConfig(store=tempfile.mkdtemp() + "/f.db", port=0))
    >>> server.start()
    >>> urllib.request.urlopen(server.url + "/health").status
    200
    >>> server.stop()
    """

    def __init__(self, config: ServeConfig, state: ServeState | None = None) -> None:
        uvicorn = require("uvicorn", "shopstream[serve]")
        self.config = config
        self.state = state or build_state(config)
        self._server = uvicorn.Server(uvicorn.Config(server_app(self.state, config),
                                                     **uvicorn_options(config)))
        self._thread = threading.Thread(target=self._server.run, name="shopstream-api",
                                        daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        _warn_if_open(self.config)
        self.state.read_workers = start_read_workers(self.config)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                msg = f"the API did not start on {self.config.host}:{self.config.port}"
                raise ConfigError(msg)
            time.sleep(0.01)

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        for server in self._server.servers:
            for sock in server.sockets:
                port: int = sock.getsockname()[1]
                return port
        return self.config.port

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        _shutdown(self.state)
