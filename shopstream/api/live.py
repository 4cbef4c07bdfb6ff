"""The pipeline that ``shopstream serve`` hosts: events posted to the API go in, features
and recommendations go to the store, and every output goes to the WebSocket hub.

One thread owns the :class:`~shopstream.runners.embedded.engine.Engine` (the request
handlers only validate and enqueue). A live source is unbounded and may fall silent, so
when no event came for ``idle_ms`` of wall time the thread moves the watermark on by the
wall time that passed: event time keeps flowing with the clock, timers fire and windows
close even while nobody posts. That is the server's business, not the operators'.

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

import functools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shopstream.errors import ConfigError, DecodeError, ShopstreamError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.stores.base import FeatureStore
from shopstream.stores.tap import StoreTap

__all__ = ["EventRejection", "LiveConfig", "LivePipeline", "QueueFullError",
           "RejectedEventsError", "validate_raw"]


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
        Events waiting for the pipeline thread before ``POST /events`` is refused.
    """

    out_of_orderness_ms: int = 5_000
    idle_ms: int = 1_000
    max_queue: int = 200_000

    def __post_init__(self) -> None:
        if self.out_of_orderness_ms < 0:
            msg = f"LiveConfig.out_of_orderness_ms must be >= 0, got {self.out_of_orderness_ms!r}"
            raise ConfigError(msg)
        for name in ("idle_ms", "max_queue"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"LiveConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)


@dataclass(frozen=True)
class EventRejection:
    """Why event number ``index`` of a request was refused."""

    index: int
    stage: str
    reason: str


class QueueFullError(ShopstreamError):
    """The pipeline is behind: too many events wait (the API answers 503)."""


class LivePipeline:
    """The default pipeline with the feature operators, fed by :meth:`submit`.

    ``listeners`` are called from the pipeline thread with every output it emits.
    """

    def __init__(self, store: FeatureStore | None, config: LiveConfig | None = None,
                 pipeline: PipelineConfig | None = None) -> None:
        self.config = config or LiveConfig()
        cfg = pipeline or PipelineConfig(features=FeaturesConfig())
        self.topology = default_topology(cfg)
        self.tap = StoreTap(store) if store is not None else None
        self.listeners: list[Callable[[Output], None]] = []
        self.engine = Engine(self.topology, self.config.out_of_orderness_ms, self._emit)
        self._decoder = EventDecoder(InputLimits(min_timestamp_ms=YEAR_2000_MS))
        self._queue: queue.Queue[list[ShopperEvent] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="shopstream-pipeline",
                                        daemon=True)
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected = 0
        self.processed = 0
        self.errors = 0
        self.last_error = ""
        self._waiting = 0

    # -- request side ---------------------------------------------------------------------
    def validate(self, raws: Sequence[bytes]) -> tuple[list[ShopperEvent], list[EventRejection]]:
        """Decode every raw event the way input files are decoded."""
        return validate_raw(self._decoder, raws)

    def submit(self, raws: Sequence[bytes]) -> int:
        """Validate and enqueue ``raws`` all or none; return how many were accepted.

        Raises :class:`RejectedEventsError` carrying the rejections when any event is
        invalid, :class:`QueueFullError` when the pipeline is too far behind.
        """
        events, problems = self.validate(raws)
        if problems:
            with self._lock:
                self.rejected += len(problems)
            raise RejectedEventsError(problems, len(raws))
        self.enqueue(events)
        return len(events)

    def count_rejected(self, n: int) -> None:
        """Count ``n`` events refused before reaching :meth:`submit` (the collector's)."""
        with self._lock:
            self.rejected += n

    def enqueue(self, events: list[ShopperEvent]) -> None:
        """Hand already validated events to the pipeline thread."""
        with self._lock:
            if self._waiting + len(events) > self.config.max_queue:
                msg = f"the pipeline is behind ({self._waiting} events waiting): retry later"
                raise QueueFullError(msg)
            self._waiting += len(events)
            self.accepted += len(events)
        self._queue.put(events)

    # -- pipeline thread ------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Process what was queued, flush the store, and end the thread (timers stay)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _loop(self) -> None:
        idle_s = self.config.idle_ms / 1000
        last_arrival = time.monotonic()
        while True:
            try:
                batch = self._queue.get(timeout=idle_s)
            except queue.Empty:
                batch = []
            if batch is None:
                self._guarded(self.engine.drain)
                if self.tap is not None:
                    self._guarded(self.tap.flush)
                break
            now = time.monotonic()
            if batch:
                last_arrival = now
                offer = self.engine.offer
                for event in batch:
                    offer(event)
                self.processed += len(batch)
                with self._lock:
                    self._waiting -= len(batch)
                self._guarded(self.engine.drain)
            elif now - last_arrival >= idle_s:
                elapsed_ms = int((now - last_arrival) * 1000)
                self._guarded(functools.partial(self.engine.advance_idle, elapsed_ms))
            if self.tap is not None:
                self._guarded(self.tap.flush)

    def _guarded(self, step: Callable[[], None]) -> None:
        # A failing store or operator must not kill the thread: count it, keep serving.
        try:
            step()
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _emit(self, out: Output) -> None:
        if self.tap is not None and out.stream in self.tap.streams:
            self.tap.write(out)
        for listener in self.listeners:
            listener(out)

    @property
    def waiting(self) -> int:
        """Events accepted but not yet handed to the engine."""
        return self._waiting


def validate_raw(decoder: EventDecoder, raws: Sequence[bytes],
                 ) -> tuple[list[ShopperEvent], list[EventRejection]]:
    """The events of ``raws`` that decode, and why each of the others did not."""
    events: list[ShopperEvent] = []
    problems: list[EventRejection] = []
    decode = decoder.decode
    for index, raw in enumerate(raws):
        try:
            events.append(decode(raw))
        except DecodeError as exc:
            problems.append(EventRejection(index, exc.stage, str(exc)))
    return events, problems


class RejectedEventsError(ShopstreamError):
    """Some events of a request were invalid; none of them was accepted."""

    def __init__(self, problems: list[EventRejection], total: int) -> None:
        self.problems = problems
        self.total = total
        super().__init__(f"{len(problems)} of {total} events are invalid; none was accepted")
