"""The lake's flush writer: a flush's tables become Parquet row groups as they come, on a
thread of their own (``threaded``) or on the caller's.

The sink hands each batch of a stream (an Arrow table, built on the pipeline's thread)
to :class:`FlushWriter`, whose thread splits it by UTC day and appends it as a row group
to the flush's file of that partition, open under a temporary name
(``part-<run>-<seq>.parquet.tmp``). Parquet encoding, compression and the file writes
run in Arrow's C++ code with the GIL released, so on a machine with a spare core they
overlap the pipeline instead of stopping it. :meth:`FlushWriter.finish` (the sink's
commit, before the checkpoint that names the flush is saved) waits for the queue to
drain, closes each file, fsyncs it, renames it into place and fsyncs its directory: a
file is visible only once complete and durable, and a run killed before its commit
leaves only ``.tmp`` files, which a resume deletes.

Measured on the shared 2-core machine (docs/lake.md), the thread did not pay: the GIL
hand-overs cost more CPU than the encoding it takes off the pipeline's thread, and with
no idle core nothing overlaps; the sink therefore writes on the caller's thread unless
asked (``LakeSink(writer_thread=True)``).

Bound: at most ``queue_tables`` tables wait for the thread (the pipeline blocks on a
full queue), plus one open file per partition the current flush touches.

Examples
--------
>>> import pathlib, tempfile
>>> import pyarrow as pa
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> writer = FlushWriter(d)
>>> table = pa.table({"at": pa.array([0, 86_400_000], pa.int64())})
>>> writer.put("s", table, "part-x-000001.parquet", pa.array([0, 86_400_000]))
>>> writer.finish()
>>> sorted(p.relative_to(d).as_posix() for p in d.rglob("*.parquet"))
['stream=s/date=1970-01-01/part-x-000001.parquet', 'stream=s/date=1970-01-02/part-x-000001.parquet']
>>> writer.rows, writer.files
({'s': 2}, 2)
>>> writer.close()
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.files import publish, tmp_name

__all__ = ["FlushWriter", "day_dates"]

_Job = tuple[str, pa.Table, str, pa.Array]


def day_dates(times: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The UTC dates of epoch-millisecond ``times``.

    >>> day_dates(pa.array([0, 86_400_000 * 365])).to_pylist()
    [datetime.date(1970, 1, 1), datetime.date(1971, 1, 1)]
    """
    return pc.cast(pc.cast(times, pa.timestamp("ms")), pa.date32())


class FlushWriter:
    """Writes tables into ``directory``'s partitions on a background thread; see the
    module's docstring."""

    def __init__(self, directory: Path, compression: str = "zstd",
                 queue_tables: int = 8, threaded: bool = True) -> None:
        self.directory = directory
        self.compression = compression
        #: Rows and files written (complete files, counted at :meth:`finish`).
        self.rows: dict[str, int] = {}
        self.files = 0
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_tables)
        self._open: dict[Path, tuple[pq.ParquetWriter, str, int]] = {}
        self._error: LakeError | None = None
        #: ``None``: each table is written by :meth:`put` itself, on the caller's thread.
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._work, name="lake-writer",
                                            daemon=True)
            self._thread.start()

    def put(self, stream: str, table: pa.Table, name: str, times: pa.Array) -> None:
        """Queue ``table`` of ``stream`` (``times``: its rows' epoch ms, which pick the
        partitions) for the flush file ``name``; blocks while the queue is full."""
        self._raise()
        if self._thread is None:
            self._run((stream, table, name, times))
            self._raise()
            return
        if not self._thread.is_alive():
            msg = "the lake writer is closed: no table can be written"
            raise LakeError(msg)
        self._queue.put((stream, table, name, times))

    def finish(self) -> None:
        """Wait for every queued table, then close, fsync and rename the flush's files."""
        self._queue.join()
        self._raise()
        try:
            for path, (writer, stream, rows) in self._open.items():
                writer.close()
                publish(tmp_name(path), path)
                self.rows[stream] = self.rows.get(stream, 0) + rows
                self.files += 1
        except OSError as exc:
            msg = f"cannot write lake file {exc.filename!r}: {exc.strerror}"
            raise LakeError(msg) from None
        finally:
            self._open.clear()

    def close(self) -> None:
        """Stop the thread (what is queued is written first; call :meth:`finish` to make
        it visible)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _run(self, job: _Job) -> None:
        try:
            if self._error is None:
                self._write(*job)
        except Exception as exc:  # kept, and raised on the caller's thread
            msg = (f"lake writer: cannot write stream {job[0]!r} under "
                   f"{str(self.directory)!r}: {type(exc).__name__}: {exc}")
            self._error = LakeError(msg)

    def _write(self, stream: str, table: pa.Table, name: str, times: pa.Array) -> None:
        dates = day_dates(times)
        days = pc.unique(dates).to_pylist()
        for day in days:
            part = table if len(days) == 1 else table.filter(
                pc.equal(dates, pa.scalar(day, pa.date32())))
            path = self.directory / f"stream={stream}" / f"date={day.isoformat()}" / name
            entry = self._open.get(path)
            if entry is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(str(tmp_name(path)),
                                          table.schema, compression=self.compression)
                entry = (writer, stream, 0)
            entry[0].write_table(part)
            self._open[path] = (entry[0], stream, entry[2] + part.num_rows)
