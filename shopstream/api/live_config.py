"""How the pipeline ``shopstream serve`` hosts behaves (:class:`LiveConfig`).

Examples
--------
>>> LiveConfig(idle_ms=10).max_queue
200000
>>> LiveConfig(max_queue=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: LiveConfig.max_queue must be > 0, got 0
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.api.serve_checkpoints import ServeCheckpointConfig
from shopstream.errors import ConfigError
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.privacy.retention import RetentionConfig

__all__ = ["SERVICE_LIMITS", "LiveConfig"]

#: The input limits of every door of the service (``serve``, ``collect``) by default: the
#: floor is the year 2000.
SERVICE_LIMITS = InputLimits(min_timestamp_ms=YEAR_2000_MS)


@dataclass(frozen=True)
class LiveConfig:
    """How the hosted pipeline behaves.

    Parameters
    ----------
    out_of_orderness_ms
        Watermark bound, as for ``shopstream run`` (default 5 s).
    idle_ms
        Wall time without events after which the watermark follows the clock (default 1 s).
    max_queue
        Events accepted but not yet taken by the pipeline (``--max-pending-events``,
        default 200,000); beyond it ``POST /events`` and the collector answer 503 with
        ``Retry-After`` instead of holding more in memory.
    max_buffered
        Events the engine may hold until the watermark passes them, on top of
        ``max_queue`` (``--max-buffered-events``, default 200,000): accepted events in
        memory are at most ``max_queue + max_buffered``, whatever the rate; beyond, 503.
        The engine holds the events of the last ``out_of_orderness_ms``, so the rate
        sustained is at most ``max_buffered`` per bound (40,000/s at the defaults).
    retry_after_s
        The ``Retry-After`` of those 503 answers (default 1 s).
    checkpoints
        Where and how often to checkpoint, with the write-ahead log that makes every 202
        durable (``None``: no log, no checkpoints; 202 means "queued in memory").
    store_commit_ms
        Longest wall time a computed value waits before the store commits it (default
        250 ms; 0: one commit after every request, as before). Values of many requests
        share one commit, and every commit makes the read workers' SQLite connections
        re-read what changed. It delays store reads only: a 202 still waits for the
        write-ahead log alone, WebSocket pushes are not delayed, and a checkpoint, an
        erasure and a stop commit first. The bound holds from the end of the request
        being processed (a long request is not cut).
    pipeline_nice
        Added to the nice value of the pipeline thread (which runs the operators and
        writes the store) when it starts (default 0: unchanged): on a busy machine the
        read workers get the CPU first. Lowering a priority needs no privilege; the
        thread never raises it back. Off by default: no gain in read p99 was measured,
        and while the lowered thread holds the GIL the request threads of its process
        wait for it (docs/hardening.md).
    """

    out_of_orderness_ms: int = 5_000
    idle_ms: int = 1_000
    max_queue: int = 200_000
    retry_after_s: int = 1
    max_buffered: int = 200_000
    checkpoints: ServeCheckpointConfig | None = None
    #: What one posted event may contain (``serve --max-*``); the floor is the year 2000.
    input_limits: InputLimits = SERVICE_LIMITS
    #: Customer 360 profiles and product/category trends (``serve --no-profiles``,
    #: ``--no-trends``): on, so their endpoints answer.
    profiles: bool = True
    trends: bool = True
    #: The longest any value lives in the store (``serve --retention-config``'s
    #: ``store`` days, :meth:`~shopstream.privacy.retention.RetentionConfig.cap_ttls`);
    #: ``None``: the built-in times to live.
    store_days: int | None = None
    store_commit_ms: int = 250
    pipeline_nice: int = 0

    def __post_init__(self) -> None:
        _ = self.retention  # validates store_days
        if self.out_of_orderness_ms < 0:
            msg = f"LiveConfig.out_of_orderness_ms must be >= 0, got {self.out_of_orderness_ms!r}"
            raise ConfigError(msg)
        if self.store_commit_ms < 0:
            msg = f"LiveConfig.store_commit_ms must be >= 0, got {self.store_commit_ms!r}"
            raise ConfigError(msg)
        if not 0 <= self.pipeline_nice <= 19:
            msg = f"LiveConfig.pipeline_nice must be in 0..19, got {self.pipeline_nice!r}"
            raise ConfigError(msg)
        for name in ("idle_ms", "max_queue", "retry_after_s", "max_buffered"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"LiveConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)

    @property
    def retention(self) -> RetentionConfig | None:
        """The store cap of ``store_days`` (``None`` without one)."""
        return None if self.store_days is None else RetentionConfig(store_days=self.store_days)
