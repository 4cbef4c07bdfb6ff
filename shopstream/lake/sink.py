"""The lake sink: buffers rows and writes them as Parquet, complete when the runner
checkpoints.

Layout (Hive partitions, what DuckDB, Trino and Spark read)::

    DIR/stream=basket-completions/date=2026-03-01/part-<run>-<seq>.parquet

``<run>`` names the run (a resumed run keeps its name: it is in the checkpoint, and in
``lake-run.json`` beside the checkpoint for a run killed before its first checkpoint);
``<seq>`` counts the run's flushes. A checkpoint records the last flush it covers, so
resuming deletes the run's files of later flushes (written after the checkpoint, or by a
flush whose checkpoint never got saved) and the rows they held are written again from the
checkpointed input offset: each row is in the lake exactly once. Without checkpoints the
sink also flushes every ``flush_rows`` rows and at the end of the run. A fresh run of an
input the lake already holds (``source``, the input file) replaces the earlier run's
rows instead of adding them again (:mod:`shopstream.lake.runs`).

Between commits, every ``batch_rows`` records of a stream become an Arrow table
(:mod:`shopstream.lake.columns`) that the flush writer (:mod:`shopstream.lake.writer`)
adds to the flush's files under temporary names; the commit publishes the files (fsync,
rename). A kill between commits leaves only temporary files, which the resume deletes
with the later flushes (and which the next run on the lake deletes if the killed run is
never resumed: :mod:`shopstream.lake.orphans`).

Examples
--------
>>> from shopstream.events.records import DeadLetter, Output
>>> sink = started_sink()
>>> d = sink.directory
>>> sink.write(Output("dead-letter", "in", DeadLetter("decode", "bad", "x", "in", 3)))
>>> sink.close()
>>> [p.relative_to(d).parent.as_posix() for p in d.rglob("*.parquet")]
['stream=dead-letter/date=1970-01-01']
"""

from __future__ import annotations

import gc
import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.lake.columns import StreamColumns
from shopstream.lake.errors import LakeError
from shopstream.lake.files import replace_json, write_parquet
from shopstream.lake.runs import (
    check_resumable,
    claim,
    hold_run_lock,
    release_run_lock,
    remove_orphans,
)
from shopstream.lake.schemas import EVENTS, SCHEMAS, TIME_COLUMNS
from shopstream.lake.writer import FlushWriter

DEAD_LETTER = streams.DEAD_LETTER

__all__ = ["RUN_MARKER", "LakeSink", "part_name", "started_sink", "write_parquet"]

#: File beside the checkpoint that names the run writing the lake.
RUN_MARKER = "lake-run.json"
#: Batch size for records the garbage collector tracks (recommendations, trending lists):
#: 512 of them (and their tuples and nested records) stay well below the young-generation
#: threshold the embedded runner sets (20,000), so they die young instead of moving to
#: the older generations.
TRACKED_BATCH_ROWS = 512
_TIME_MS = attrgetter("timestamp_ms")
_PART = re.compile(r"^part-(?P<run>[0-9a-z]+)-(?P<seq>\d+)\.parquet(?:\.tmp)?$")


def part_name(run: str, seq: int) -> str:
    """The file name of flush ``seq`` of run ``run``.

    >>> part_name("ab12", 7)
    'part-ab12-000007.parquet'
    """
    return f"part-{run}-{seq:06d}.parquet"


class LakeSink:
    """Writes ``streams`` (default: every stream with a lake schema, the input events
    included) under ``directory``; the runner calls ``start``, ``write``/``write_event``,
    ``commit`` at each checkpoint and ``close``."""

    def __init__(self, directory: str | Path, streams: Iterable[str] | None = None,
                 flush_rows: int = 500_000, compression: str = "zstd",
                 source: str | None = None, batch_rows: int = 4_096) -> None:
        self.directory = Path(directory)
        #: The input's identity (see :mod:`shopstream.lake.runs`): a fresh run of an
        #: input already in the lake replaces the earlier run's rows.
        self.source = source
        chosen = frozenset(SCHEMAS if streams is None else streams)
        unknown = sorted(chosen - SCHEMAS.keys())
        if unknown:
            msg = f"the lake has no schema for streams {unknown}; known: {sorted(SCHEMAS)}"
            raise LakeError(msg)
        self.streams = chosen
        self.flush_rows = flush_rows
        self.compression = compression
        if not isinstance(batch_rows, int) or batch_rows < 1:
            msg = f"LakeSink.batch_rows must be an int >= 1, got {batch_rows!r}"
            raise ConfigError(msg)
        self.batch_rows = batch_rows
        # Each stream keeps its records as they are written; every batch_rows of them
        # become an Arrow table (shopstream.lake.columns), which the flush writer
        # (shopstream.lake.writer) adds to the flush's Parquet file of its partition; the
        # commit makes the files durable. Bound: batch_rows records per stream, and the
        # writer's waiting tables (Arrow memory, up to a row group per partition).
        self._columns: dict[str, StreamColumns] = {s: StreamColumns(s) for s in chosen}
        events = self._columns.get(EVENTS)
        #: The records waiting for their batch: of the events, and of each output stream
        #: but dead letters (the columns' own lists).
        self._event_records: list[Any] | None = (
            events.records if events is not None else None)
        self._outputs: dict[str, list[Any]] = {
            s: c.records for s, c in self._columns.items()
            if s not in (EVENTS, DEAD_LETTER)}
        #: Records kept per output stream before they become a table: ``batch_rows``, or
        #: ``tracked_batch_rows`` for records the garbage collector tracks (kept ones
        #: would survive its young collections); 1 until the first record says which.
        self._limits: dict[str, int] = dict.fromkeys(self._outputs, 1)
        self._dead_ms: list[int] = []
        self._pending_rows = 0
        self._auto_flush = True
        self._writer: FlushWriter | None = None
        self.run = ""
        #: This run's lock file (:func:`~shopstream.lake.runs.hold_run_lock`).
        self._lock: Path | None = None
        self.seq = 0
        self.max_ms = 0
        self.rows: dict[str, int] = dict.fromkeys(sorted(chosen), 0)
        self.files = 0
        #: Seconds spent turning batches into tables, writing them and committing
        #: (Parquet encoding, fsync), wall time (waits for the disk and the CPU included).
        self.flush_seconds = 0.0
        #: The same work's CPU seconds on the calling thread: records to Arrow tables
        #: (``convert``), and Parquet encoding, files and commits (``write``).
        self.convert_cpu_seconds = 0.0
        self.write_cpu_seconds = 0.0

    @property
    def wants_events(self) -> bool:
        return self._event_records is not None

    def start(self, state: dict[str, Any] | None, resume: bool,
              checkpoint_dir: str | Path | None) -> None:
        """Take up a checkpoint's ``state`` (``None``: from the start) and, when
        resuming, delete this run's files that the checkpoint does not cover."""
        started = time.time()
        marker = Path(checkpoint_dir) / RUN_MARKER if checkpoint_dir is not None else None
        self._auto_flush = checkpoint_dir is None
        if state is not None:
            self.run, self.seq, self.max_ms = state["run"], state["seq"], state["max_ms"]
        elif resume and marker is not None and marker.exists():
            self.run = json.loads(marker.read_text())["run"]
        else:
            self.run = uuid.uuid4().hex[:12]
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            replace_json(marker, {"run": self.run, "lake": self.location})
        self._open_lake(resume, started)

    @property
    def location(self) -> str:
        """Where the lake is (its directory, or its URL for a lake in object storage)."""
        return str(self.directory)

    def _open_lake(self, resume: bool, started: float) -> None:
        """Take the lake for run ``self.run`` (see :meth:`start`)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create lake directory {str(self.directory)!r}: {exc.strerror}"
            raise LakeError(msg) from None
        # The lock first: a `lake compact` cannot merge this run's flushes between the
        # check and the resume (it takes idle runs' locks only).
        lock = hold_run_lock(self.directory, self.run)
        if resume:
            try:
                check_resumable(self.directory, self.run, self.seq)
            except LakeError:
                if lock != self._lock:
                    release_run_lock(lock)
                raise
        if self._lock is not None and self._lock != lock:
            release_run_lock(self._lock)  # a start of another run by the same sink
        self._lock = lock
        claim(self.directory, self.run, self.source)
        if resume:
            self._forget_after(self.seq)
        # Temporary files of runs killed and never resumed (shopstream.lake.runs).
        remove_orphans(self.directory, started, keep_run=self.run)
        if self._writer is None:
            self._writer = FlushWriter(self.directory, self.compression)

    def _forget_after(self, seq: int) -> None:
        for path in self.directory.glob(f"stream=*/date=*/part-{self.run}-*"):
            match = _PART.match(path.name)
            if match and (int(match["seq"]) > seq or path.name.endswith(".tmp")):
                path.unlink()

    def write(self, out: Output) -> None:
        # Called for every output record: one dict lookup and one append (the records
        # are converted a batch at a time, shopstream.lake.columns).
        records = self._outputs.get(out.stream)
        if records is None:
            if out.stream == DEAD_LETTER and DEAD_LETTER in self._columns:
                self._columns[DEAD_LETTER].add(out.record)
                self._dead_ms.append(self._newest_ms())  # sealed at the commit, with times
            return
        records.append(out.record)
        if len(records) >= self._limits[out.stream]:
            self._seal(self._columns[out.stream])

    def write_event(self, event: ShopperEvent) -> None:
        """An input event, as the runner hands it to the engine."""
        events = self._event_records
        if events is None:
            return
        events.append(event)
        if len(events) >= self.batch_rows:
            self._seal(self._columns[EVENTS])

    def _newest_ms(self) -> int:
        """The newest event time written so far (events waiting for their batch too)."""
        events = self._event_records
        if events:
            self.max_ms = max(self.max_ms, max(map(_TIME_MS, events)))
        return self.max_ms

    def _seal(self, columns: StreamColumns) -> None:
        limits = self._limits
        if limits.get(columns.stream) == 1 and len(columns) == 1:
            limit = self.batch_rows
            if gc.is_tracked(columns.records[0]):
                limit = min(limit, TRACKED_BATCH_ROWS)
            limits[columns.stream] = limit
            if limit > 1:
                return
        started, cpu = time.perf_counter(), time.thread_time()
        if columns.stream == EVENTS:
            self._newest_ms()
        self._pending_rows += len(columns)
        table = columns.table()
        converted = time.thread_time()
        self._put(columns.stream, table)
        self.convert_cpu_seconds += converted - cpu
        self.write_cpu_seconds += time.thread_time() - converted
        self.flush_seconds += time.perf_counter() - started
        if self._auto_flush and self._pending_rows >= self.flush_rows:
            self.commit()

    def _put(self, stream: str, table: pa.Table, times: pa.Array | None = None) -> None:
        """Hand ``table`` to the writer, for the flush after the last commit."""
        if self._writer is None:
            msg = "LakeSink.start must be called before rows are written"
            raise LakeError(msg)
        if times is None:
            parent, _, child = TIME_COLUMNS[stream].partition(".")
            times = table.column(parent).combine_chunks()
            if child:
                times = pc.struct_field(times, [times.type.get_field_index(child)])
        self._writer.put(stream, table, part_name(self.run, self.seq + 1), times)

    def commit(self) -> dict[str, Any]:
        """Write and fsync what is buffered; return the state a checkpoint keeps."""
        self._newest_ms()
        if self._pending_rows or any(map(len, self._columns.values())):
            started, cpu = time.perf_counter(), time.thread_time()
            converting = 0.0
            for stream, columns in self._columns.items():
                if not len(columns):
                    continue
                before = time.thread_time()
                table = columns.table()
                converting += time.thread_time() - before
                if stream == streams.DEAD_LETTER:
                    times = pa.array(self._dead_ms, pa.int64())
                    self._dead_ms = []
                    self._put(stream, table, times)
                else:
                    self._put(stream, table)
            writer = self._writer
            if writer is None:
                msg = "LakeSink.start must be called before rows are written"
                raise LakeError(msg)
            writer.finish()
            self._published(writer.published, self.seq + 1)
            self.convert_cpu_seconds += converting
            self.write_cpu_seconds += time.thread_time() - cpu - converting
            self.seq += 1
            self._pending_rows = 0
            self.rows.update(writer.rows)
            self.files = writer.files
            self.flush_seconds += time.perf_counter() - started
        return {"run": self.run, "seq": self.seq, "max_ms": self.max_ms}

    def _published(self, paths: list[Path], seq: int) -> None:
        """Flush ``seq``'s files are complete at ``paths`` (a local lake: in place)."""

    def close(self) -> None:
        """Write what is still buffered (a resume deletes it if no checkpoint covers it)."""
        if self.run:
            try:
                self.commit()
            finally:
                self._writer = None
                if self._lock is not None:
                    release_run_lock(self._lock)
                    self._lock = None


def started_sink(directory: str | Path | None = None, **options: Any) -> LakeSink:
    """A :class:`LakeSink` (``options``: its arguments) on ``directory`` (a new temporary
    directory when ``None``), started fresh without checkpoints: for examples and tests.

    >>> started_sink().run != ""
    True
    """
    sink = LakeSink(directory if directory is not None else tempfile.mkdtemp(), **options)
    sink.start(None, resume=False, checkpoint_dir=None)
    return sink
