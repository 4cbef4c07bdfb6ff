"""The pipeline that ``shopstream serve`` hosts: events posted to the API go in, features
and recommendations go to the store, and every output goes to the WebSocket hub.

One thread owns the :class:`~shopstream.runners.embedded.engine.Engine` (the request
handlers only validate and enqueue; the :class:`~shopstream.api.ingest_log.IngestLog`
writer puts accepted events in the write-ahead log and hands them on in log order). A
live source is unbounded and may fall silent, so when no event came for ``idle_ms`` of
wall time the watermark moves on by the wall time that passed: event time keeps flowing
with the clock, timers fire and windows close even while nobody posts. That is the
server's business, not the operators'; the advance is logged like the events, so a
replay after a crash repeats it at the same place.

At most ``max_queue`` events wait between the handlers and the engine, and at most
``max_queue + max_buffered`` accepted events are in memory, waiting or held by the engine
until the watermark passes them; beyond either :meth:`LivePipeline.enqueue` raises
:class:`QueueFullError` (503 with ``Retry-After``). The engine holds every event of the
last out-of-orderness bound (``out_of_orderness_ms`` of event time), as many as the rate
brings; without the second bound memory grew with the rate processed (a server taking
20,000 events/s held 100,000 events, about 200 MB), with it it does not.
With ``checkpoints``, the engine and the log position are checkpointed together and
:meth:`LivePipeline.start` resumes from them (see :mod:`shopstream.api.serve_checkpoints`).

The store commits the values of many requests at once, at most ``store_commit_ms`` after
the last commit (the pipeline thread waits for the next request only that long when
values wait); a checkpoint, an erasure and a stop commit first. Before, every request
had its own commit, and each commit makes every read worker's SQLite connection re-read
the pages it changed. The pipeline thread can also lower its own priority by
``pipeline_nice`` (off by default) so that, on a busy machine, the read workers get the
CPU first.

Examples
--------
>>> import tempfile, time
>>> from shopstream.stores.embedded import SqliteStore
>>> store = SqliteStore(tempfile.mkdtemp() + "/f.db")
>>> live = LivePipeline(store, LiveConfig(out_of_orderness_ms=0, idle_ms=10))
>>> live.start()
>>> now_ms = int(time.time()) // 30 * 30_000  # a 30 s slot boundary, not ahead of the clock
>>> live.submit([b'{"eventType":"PURCHASE","sessionId":"s","userId":"u","timestamp":%d,'
...              b'"cartTotal":12.5}' % now_ms])
1
>>> for _ in range(200):
...     if store.get("user:u:orders_count_24hr"):
...         break
...     time.sleep(0.01)
>>> store.get("user:u:orders_count_24hr"), store.get("user:u:order_value_24hr")
(1, 12.5)
>>> live.stop(); store.close()
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from shopstream.api.errors import (
    PipelineFailedError,
    QueueFullError,
    RejectedEventsError,
    retry_after,
)
from shopstream.api.ingest_log import Entry, IngestLog
from shopstream.api.live_config import LiveConfig
from shopstream.api.live_durability import LiveDurability, MetricLine
from shopstream.api.serve_checkpoints import ServeCheckpoints
from shopstream.api.thread_priority import lower_thread_priority
from shopstream.api.validation import EventRejection, validate_raw
from shopstream.events.decode import EventDecoder
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.profiles.trends import TrendsConfig
from shopstream.runners.embedded.engine import Engine
from shopstream.state.operator import KeyedOperator
from shopstream.stores.base import FeatureStore
from shopstream.stores.tap import StoreTap

# LiveConfig, the errors and validate_raw live in their own modules; they are re-exported
# here because routes, the CLI and tests import them from shopstream.api.live.
__all__ = ["EventRejection", "LiveConfig", "LivePipeline", "PipelineFailedError",
           "QueueFullError", "RejectedEventsError", "retry_after", "validate_raw"]

log = logging.getLogger("shopstream.api")

class LivePipeline:
    """The default pipeline with the feature operators, fed by :meth:`submit`.

    ``listeners`` are called from the pipeline thread with every output it emits.
    Memory is bounded by ``config.max_queue + config.max_buffered`` accepted events
    (waiting, or held by the engine for its watermark bound); with ``config.checkpoints``
    every accepted event is in the write-ahead log before :meth:`submit` returns, and
    :meth:`start` resumes from the last checkpoint and replays the log.
    """

    def __init__(self, store: FeatureStore | None, config: LiveConfig | None = None,
                 pipeline: PipelineConfig | None = None) -> None:
        self.config = config or LiveConfig()
        cfg = pipeline or PipelineConfig(
            features=FeaturesConfig(),
            profiles=ProfilesConfig() if self.config.profiles else None,
            trends=TrendsConfig() if self.config.trends else None)
        self.topology = default_topology(cfg)
        # store_commit_ms 0 commits after every request (the tap's own 50 ms bound stays).
        delay_s = (self.config.store_commit_ms or 50) / 1000
        self.tap = (StoreTap(store, max_delay_s=delay_s, retention=self.config.retention)
                    if store is not None else None)
        self.listeners: list[Callable[[Output], None]] = []
        self.engine = Engine(self.topology, self.config.out_of_orderness_ms, self._emit)
        self._decoder = EventDecoder(self.config.input_limits)
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="shopstream-pipeline",
                                        daemon=True)
        self._lock = threading.Lock()
        self.durability = LiveDurability(self.config.checkpoints, self.engine, self.tap)
        self.log = IngestLog(self.durability.wal, self._queue.put, self.config.idle_ms)
        self.accepted = 0
        self.rejected = 0
        self.refused = 0
        #: Events handed to the engine (held ones included: see :attr:`events_processed`).
        self.processed = 0
        self._events_processed = 0
        self.replayed = 0
        self.errors = 0
        self.last_error = ""
        #: Why the pipeline stopped (an operator raised), or ``None`` while it runs.
        self.failure: str | None = None
        #: The pipeline thread's nice value once it lowered it (``None`` before, or when
        #: it could not: not Linux, ``pipeline_nice`` 0).
        self.nice: int | None = None
        self._waiting = 0

    @property
    def checkpoints(self) -> ServeCheckpoints | None:
        """The checkpoints and write-ahead log (``None`` without ``config.checkpoints``)."""
        return self.durability.checkpoints

    # -- request side ---------------------------------------------------------------------
    def validate(self, raws: Sequence[bytes]) -> tuple[list[ShopperEvent], list[EventRejection]]:
        """Decode every raw event the way input files are decoded."""
        return validate_raw(self._decoder, raws)

    def submit(self, raws: Sequence[bytes]) -> int:
        """Validate and enqueue ``raws`` all or none; return how many were accepted, once
        they are durable (blocks: from a thread, not the event loop).

        Raises :class:`RejectedEventsError` carrying the rejections when any event is
        invalid, :class:`QueueFullError` when the pipeline is too far behind,
        :class:`~shopstream.connectors.errors.WalError` when the log cannot be written.
        """
        return self.enqueue(self._valid(raws)).result()

    async def submit_async(self, raws: Sequence[bytes]) -> int:
        """:meth:`submit` for a request handler: waits for the log without blocking."""
        return await asyncio.wrap_future(self.enqueue(self._valid(raws)))

    def _valid(self, raws: Sequence[bytes]) -> list[ShopperEvent]:
        # Refuse before decoding when the bound is already reached: under overload a
        # refusal must cost far less than an acceptance.
        self._admit(len(raws), count=False)
        events, problems = self.validate(raws)
        if problems:
            with self._lock:
                self.rejected += len(problems)
            raise RejectedEventsError(problems, len(raws))
        return events

    def count_rejected(self, n: int) -> None:
        """Count ``n`` events refused before reaching :meth:`submit` (the collector's)."""
        with self._lock:
            self.rejected += n

    def enqueue(self, events: list[ShopperEvent]) -> Future[int]:
        """Hand already validated events to the log and the pipeline; the future gives
        their count once they are durable (at once without a log)."""
        n = len(events)
        self._admit(n, count=True)
        future = self.log.submit(events)
        future.add_done_callback(functools.partial(self._settled, n))
        return future

    def _admit(self, n: int, count: bool) -> None:
        """Refuse ``n`` more events beyond the bound or after a failure; else, if
        ``count``, count them in."""
        with self._lock:
            if self.failure is not None:
                self.refused += n
                msg = (f"the pipeline stopped: {self.failure}; no event is accepted until "
                       "serve is restarted (see /health and the server log)")
                raise PipelineFailedError(msg)
            if self._waiting + n > self.config.max_queue:
                self.refused += n
                msg = (f"the pipeline is behind ({self._waiting} events waiting, at most "
                       f"{self.config.max_queue}): retry in {self.config.retry_after_s} s")
                raise QueueFullError(msg, self.config.retry_after_s)
            # Events move from waiting to held, so the sum grows only here. (While the
            # pipeline thread hands a batch over it counts in both: a refusal, never more.)
            held = self.buffered
            if self._waiting + held + n > self.config.max_queue + self.config.max_buffered:
                self.refused += n
                msg = (f"the pipeline holds {held} events until the watermark passes them "
                       f"and {self._waiting} wait (at most {self.config.max_queue} + "
                       f"{self.config.max_buffered}): retry in {self.config.retry_after_s} s")
                raise QueueFullError(msg, self.config.retry_after_s)
            if count:
                self._waiting += n

    def _settled(self, n: int, future: Future[int]) -> None:
        with self._lock:
            if future.exception() is None:
                self.accepted += n
            else:  # never reached the pipeline
                self._waiting -= n
                self.refused += n

    # -- pipeline thread ------------------------------------------------------------------
    def start(self) -> None:
        """Resume from the last checkpoint and replay the log (before serving), then
        start the writer and pipeline threads."""
        if self.checkpoints is not None:
            self._recover()
        self.log.start()
        self._thread.start()

    def _recover(self) -> None:
        self.processed = self.accepted = self.durability.restore()
        for entry in self.durability.replay():
            self.accepted += len(entry.events)
            self.replayed += len(entry.events)
            self._apply(entry)
        if self.tap is not None:
            self.tap.flush()
        self.durability.save(self.processed)

    def stop(self) -> None:
        """Process what was queued, flush the store, checkpoint, and end the threads
        (timers stay)."""
        self.log.stop()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.durability.close()

    def _loop(self) -> None:
        self._lower_priority()
        durable = self.checkpoints is not None
        failure_flushed = False
        while True:
            entry = self._next()
            if entry is None:
                self._operators(self.engine.drain)
                if self.tap is not None:
                    self._guarded(self.tap.flush)
                if durable and self.failure is None:
                    self._guarded(self.checkpoint_now)
                break
            self._operators(functools.partial(self._apply, entry))
            with self._lock:
                self._waiting -= len(entry.events)
            if self.failure is not None:
                # Nothing more is applied, nor checkpointed past the failure; what earlier
                # requests computed is committed now, not at the stop (store_commit_ms).
                if self.tap is not None and not failure_flushed:
                    failure_flushed = True
                    self._guarded(self.tap.flush)
                continue
            if self.durability.due():
                self._guarded(self.checkpoint_now)
            elif self.tap is not None:
                self._guarded(self.tap.flush_due if self.config.store_commit_ms
                              else self.tap.flush)

    def _next(self) -> Entry | None:
        """The next entry of the log; while waiting for it, commit the store's waiting
        values when they are due (so that none waits much longer than
        ``store_commit_ms``, whenever the next request comes)."""
        tap = self.tap
        if tap is None:
            return self._queue.get()
        while True:
            wait = tap.due_in() if self.failure is None else None
            if wait is None:
                return self._queue.get()
            try:
                return self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                self._guarded(tap.flush_due)

    def _lower_priority(self) -> None:
        """Add ``pipeline_nice`` to this thread's nice value (see
        :func:`~shopstream.api.thread_priority.lower_thread_priority`)."""
        self.nice = lower_thread_priority(self.config.pipeline_nice)

    def _apply(self, entry: Entry) -> None:
        self.durability.record(entry)
        if entry.events:
            offer = self.engine.offer
            for event in entry.events:
                offer(event)
            self.processed += len(entry.events)
            self.engine.drain()
        else:
            self.engine.advance_idle(entry.idle_ms)

    def checkpoint_now(self) -> None:
        """Flush the store and checkpoint at once, when checkpoints are on; call it on the
        pipeline thread (an erasure does, so that no checkpoint keeps the erased shopper)."""
        self.durability.save(self.processed)

    def _guarded(self, step: Callable[[], None]) -> None:
        # A failing store write or checkpoint must not kill the thread: count it, log it,
        # keep serving (the store's writer retries; the next checkpoint tries again).
        try:
            step()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("serve pipeline: %s", self.last_error)

    def _operators(self, step: Callable[[], None]) -> None:
        """Run ``step``, which runs operators. An operator that raises leaves its state
        and the engine's half way through an element: nothing after it can be trusted,
        so the pipeline stops (never skips the element), the failure shows in /health
        (503), /metrics and the log, and new events are refused until a restart, which
        resumes from the last checkpoint and replays the log."""
        if self.failure is not None:
            return
        try:
            step()
        except Exception as exc:
            self.errors += 1
            self.failure = self.last_error = _describe(exc)
            log.error("serve pipeline stopped: %s", self.failure, exc_info=exc)

    def _emit(self, out: Output) -> None:
        if self.tap is not None and out.stream in self.tap.streams:
            self.tap.write(out)
        for listener in self.listeners:
            listener(out)

    @property
    def waiting(self) -> int:
        """Events accepted (or being written to the log) not yet handed to the engine."""
        return self._waiting

    @property
    def buffered(self) -> int:
        """Events the engine holds until the watermark passes them."""
        return self.engine.buffered_events

    @property
    def events_processed(self) -> int:
        """Events the operators have processed (or sent to ``late-events``): those
        handed to the engine (``processed``, the log position checkpoints record) less
        those it still holds for the watermark (:attr:`buffered`, shown apart as
        ``eventsBuffered``). Read from another thread while a batch is handed over, the
        difference can dip below the count given before (the batch is held before it is
        counted): the largest count given is kept, so the counter never goes back."""
        count = max(self._events_processed, self.processed - self.buffered)
        self._events_processed = count
        return count

    def status(self) -> dict[str, Any]:
        """The ingest numbers ``/health`` adds to its ``pipeline`` entry."""
        return {"failure": self.failure,
                "eventsAccepted": self.accepted, "eventsPending": self.waiting,
                "eventsRefused": self.refused, "eventsReplayed": self.replayed,
                "maxPendingEvents": self.config.max_queue,
                "eventsBuffered": self.buffered,
                "maxBufferedEvents": self.config.max_buffered,
                "durable": self.checkpoints is not None,
                "logFailure": self.log.failure,
                "checkpoints": None if self.checkpoints is None
                else self.checkpoints.status()}

    def metrics_text(self) -> str:
        """Prometheus lines of the ingest path (appended to ``/metrics``)."""
        lines: list[MetricLine] = [
            ("shopstream_events_accepted_total", "counter",
             "Events answered 202 (durable in the write-ahead log when one is configured).",
             self.accepted),
            ("shopstream_events_refused_total", "counter",
             "Events answered 503 because the pipeline was behind (or the log failed).",
             self.refused),
            ("shopstream_events_pending", "gauge",
             "Events accepted and not yet taken by the pipeline.", self.waiting),
            ("shopstream_events_pending_max", "gauge",
             "Bound of shopstream_events_pending (--max-pending-events).",
             self.config.max_queue),
            ("shopstream_events_buffered", "gauge",
             "Events the pipeline holds until the watermark passes them.", self.buffered),
            ("shopstream_events_buffered_max", "gauge",
             "Bound of shopstream_events_pending + shopstream_events_buffered, minus "
             "--max-pending-events (--max-buffered-events).", self.config.max_buffered),
            ("shopstream_wal_syncs_total", "counter",
             "Group commits (one fdatasync each) of the write-ahead log.", self.log.syncs),
            ("shopstream_pipeline_failed", "gauge",
             "1 once an operator raised and the hosted pipeline stopped (see /health).",
             int(self.failure is not None)),
        ]
        lines += self.durability.metric_lines()
        out = []
        for name, kind, text, value in lines:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(out) + "\n"


def _describe(exc: BaseException) -> str:
    """``exc`` with the operator it came from (the innermost operator method on its
    traceback)."""
    name = None
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, KeyedOperator):
            name = owner.name
        tb = tb.tb_next
    where = f"operator {name!r}" if name else "the pipeline"
    return f"{where} raised {type(exc).__name__}: {exc}"
