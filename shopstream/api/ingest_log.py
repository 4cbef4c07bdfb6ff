"""The ordered, durable hand-over from the HTTP handlers to the hosted pipeline.

Request handlers call :meth:`IngestLog.submit` with validated events and get a future.
One writer thread takes every submission waiting, appends each as one record to the
write-ahead log, syncs once for all of them (group commit: one ``fdatasync`` per group,
not per request, so throughput stays high while every answer waits for the disk), then
hands them to the pipeline in log order and resolves their futures: a handler answers
202 only once its events are durable. Without a log the same thread hands batches on at
once (202 then means "queued in memory").

A live source may fall silent; the pipeline then moves event time on with the wall clock
(see :mod:`shopstream.api.live`). That advance changes outputs, so it is an input too: the
writer logs it as an *idle* record, in order with the events, and a replay of the log
gives the engine exactly the sequence it saw.

Examples
--------
>>> import tempfile
>>> from shopstream.connectors.wal import WalConfig, WriteAheadLog
>>> from shopstream.events.model import EventType, ShopperEvent
>>> wal = WriteAheadLog(WalConfig(tempfile.mkdtemp()))
>>> got = []
>>> log = IngestLog(wal, got.append, idle_ms=60_000)
>>> log.start()
>>> log.submit([ShopperEvent(EventType.PAGE_VIEW, 1_000, "s")]).result(timeout=5)
1
>>> log.stop()
>>> [(len(e.events), e.position) for e in got]
[(1, 67)]
>>> [len(entry_of(kind, payload, pos).events) for kind, payload, pos in wal.records(0)]
[1]
>>> wal.close()
"""

from __future__ import annotations

import queue
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import msgspec

from shopstream.connectors.wal import WalError, WriteAheadLog
from shopstream.events.model import ShopperEvent

__all__ = ["KIND_EVENTS", "KIND_IDLE", "Entry", "IngestLog", "entry_of"]

KIND_EVENTS = 1
KIND_IDLE = 2
#: Submissions written and synced together at most (bounds one group's latency).
MAX_GROUP = 512

_IDLE = struct.Struct("<q")
_encode = msgspec.msgpack.Encoder().encode
_decode_events = msgspec.msgpack.Decoder(list[ShopperEvent]).decode


@dataclass(frozen=True)
class Entry:
    """One input of the pipeline: accepted events, or ``idle_ms`` of silence.

    ``position`` is the log position after it (0 without a log).
    """

    events: list[ShopperEvent]
    idle_ms: int
    position: int


def entry_of(kind: int, payload: bytes, position: int) -> Entry:
    """The :class:`Entry` a log record holds (for replay)."""
    if kind == KIND_IDLE:
        return Entry([], _IDLE.unpack(payload)[0], position)
    return Entry(_decode_events(payload), 0, position)


_Submission = tuple[list[ShopperEvent], "Future[int]"]


class IngestLog:
    """The writer thread between request handlers and the pipeline (see the module).

    ``deliver`` is called from the writer thread, in log order, with each durable
    :class:`Entry`. After a write or sync failure the log refuses every later submission
    (the API answers 503) until the server restarts: what reached the disk is unknown.
    """

    def __init__(self, wal: WriteAheadLog | None, deliver: Callable[[Entry], None],
                 idle_ms: int) -> None:
        self.wal = wal
        self._deliver = deliver
        self._idle_s = idle_ms / 1000
        self._inbox: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="shopstream-ingest-log",
                                        daemon=True)
        self.failure: str | None = None
        self.syncs = 0
        self.records = 0

    def submit(self, events: list[ShopperEvent]) -> Future[int]:
        """Queue ``events`` for the log; the future gives their count once durable."""
        future: Future[int] = Future()
        if self.failure is not None:
            future.set_exception(WalError(self.failure))
        else:
            self._inbox.put((events, future))
        return future

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write and hand on every submission already queued, then end the thread."""
        if self._thread.is_alive():
            self._inbox.put(None)
            self._thread.join()

    def _loop(self) -> None:
        last_arrival = time.monotonic()
        inbox = self._inbox
        while True:
            try:
                first = inbox.get(timeout=self._idle_s)
            except queue.Empty:
                now = time.monotonic()
                if now - last_arrival >= self._idle_s:
                    self._write_idle(int((now - last_arrival) * 1000))
                continue
            group: list[_Submission] = []
            stop = first is None
            if first is not None:
                group.append(first)
            while not stop and len(group) < MAX_GROUP:
                try:
                    more = inbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    group.append(more)
            if group:
                last_arrival = time.monotonic()
                self._write(group)
            if stop:
                return

    def _write(self, group: list[_Submission]) -> None:
        wal = self.wal
        entries: list[Entry] = []
        try:
            if self.failure is not None:
                raise WalError(self.failure)
            for events, _ in group:
                position = wal.append(KIND_EVENTS, _encode(events)) if wal else 0
                entries.append(Entry(events, 0, position))
            if wal is not None:
                wal.sync()
                self.syncs += 1
        except WalError as exc:
            self.failure = str(exc)
            for _, future in group:
                future.set_exception(WalError(self.failure))
            return
        self.records += len(entries)
        for entry, (events, future) in zip(entries, group, strict=True):
            self._deliver(entry)
            future.set_result(len(events))

    def _write_idle(self, idle_ms: int) -> None:
        position = 0
        if self.wal is not None:
            if self.failure is not None:
                return
            try:
                position = self.wal.append(KIND_IDLE, _IDLE.pack(idle_ms))
                self.wal.sync()
            except WalError as exc:
                self.failure = str(exc)
                return
            self.syncs += 1
        self._deliver(Entry([], idle_ms, position))
