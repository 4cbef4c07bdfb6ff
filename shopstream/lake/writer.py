"""The lake's flush writer: a flush's tables become Parquet files, one per partition,
visible only once complete and durable.

The sink hands each batch of a stream (an Arrow table) to :class:`FlushWriter`, which
splits it by UTC day and keeps it for the flush's file of that partition
(``part-<run>-<seq>.parquet``, open under a temporary name ``...parquet.tmp``); once a
file has ``row_group_rows`` rows waiting they are appended to it as one row group.
:meth:`FlushWriter.finish` (the sink's commit, before the checkpoint that names the flush
is saved) writes what waits, closes each file, fsyncs it, renames it into place and
fsyncs its directory. A run killed before its commit leaves only ``.tmp`` files, which a
resume (and the next writer, :func:`shopstream.lake.orphans.remove_orphans`) deletes.

Costs, measured on a simulated week (docs/lake.md): row groups of a whole flush rather
than of each 4,096-row batch, and dictionary encoding only for the low-cardinality
string columns (:data:`shopstream.lake.schemas.DICTIONARY_FIELDS`; ids, numbers and free
text are stored plain and left to zstd), encode faster and give smaller files; min/max
statistics only for the numbers (:func:`statistics_columns`: the string columns' cost
about a sixth of the encoding and prune nothing in a file of one row group). A batch is
split by day with numpy on its times, a slice per day when they never go back a day. A
thread of its own for the writer (``writer_thread=True``, removed) cost more CPU in GIL
hand-overs than the encoding it moved off the pipeline's thread, on the 2-core machine
it was measured on.

Bound: the flush's batches of each partition, up to ``row_group_rows`` rows, as Arrow
tables (not Python objects), plus one open file per partition the flush touches.

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
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.files import publish, tmp_name
from shopstream.lake.schemas import DICTIONARY_FIELDS

__all__ = ["FlushWriter", "day_dates", "dictionary_columns", "statistics_columns"]

_DAY_MS = 86_400_000


def day_dates(times: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The UTC dates of epoch-millisecond ``times``.

    >>> day_dates(pa.array([0, 86_400_000 * 365])).to_pylist()
    [datetime.date(1970, 1, 1), datetime.date(1971, 1, 1)]
    """
    return pc.cast(pc.cast(times, pa.timestamp("ms")), pa.date32())


def _by_day(table: pa.Table, times: pa.Array | pa.ChunkedArray,
            ) -> list[tuple[int, pa.Table]]:
    """``table``'s rows by the UTC day (days since 1970-01-01) of their epoch-ms
    ``times``, days in the order they first occur, rows in their order: a slice per run of
    one day when the times never go back a day (the usual case: one day, or a midnight
    inside the batch), else a filter per day.

    >>> t = pa.table({"n": [1, 2, 3]})
    >>> [(d, p.column("n").to_pylist()) for d, p in _by_day(t, pa.array([0, 86_400_000, 5]))]
    [(0, [1, 3]), (1, [2])]
    >>> [(d, p.num_rows) for d, p in _by_day(t, pa.array([-1, 0, 86_400_000]))]
    [(-1, 1), (0, 1), (1, 1)]
    """
    if isinstance(times, pa.ChunkedArray):
        times = times.combine_chunks()
    if times.null_count:
        msg = f"{times.null_count} rows without an event time"
        raise pa.ArrowInvalid(msg)
    days = times.to_numpy() // _DAY_MS  # floor: the date32 cast's day
    if not len(days):
        return []
    first = int(days[0])
    if len(days) == 1 or (days == first).all():
        return [(first, table)]
    steps = np.diff(days)
    if (steps >= 0).all():
        bounds = [0, *(np.flatnonzero(steps) + 1).tolist(), len(days)]
        return [(int(days[lo]), table.slice(lo, hi - lo))
                for lo, hi in pairwise(bounds)]
    unique, where = np.unique(days, return_index=True)
    return [(int(day), table.filter(pa.array(days == day)))
            for day in unique[np.argsort(where, kind="stable")]]


def _date_name(day: int) -> str:
    """The ISO date of UTC day ``day`` (days since 1970-01-01).

    >>> _date_name(0), _date_name(-1), _date_name(20_089)
    ('1970-01-01', '1969-12-31', '2025-01-01')
    """
    return str(np.datetime64(day, "D"))


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The Parquet paths of ``schema``'s string columns named in
    :data:`~shopstream.lake.schemas.DICTIONARY_FIELDS` (at any depth).

    >>> s = pa.schema([("device", pa.string()), ("user_id", pa.string()),
    ...                ("items", pa.list_(pa.struct([("category", pa.string())])))])
    >>> dictionary_columns(s)
    ['device', 'items.list.element.category']
    """
    return _leaf_paths(schema, lambda name, kind: (pa.types.is_string(kind)
                                                   and name in DICTIONARY_FIELDS))


def statistics_columns(schema: pa.Schema) -> list[str]:
    """The Parquet paths of ``schema``'s columns that get min/max statistics: the numbers
    (times, amounts, counts), at any depth. Strings get none: a file holds one row group
    of a flush's partition, whose ids, names and kinds span nearly every value, so their
    min/max prune nothing, and computing them was about a sixth of the encoding's CPU.

    >>> s = pa.schema([("at", pa.int64()), ("user_id", pa.string()),
    ...                ("items", pa.list_(pa.struct([("price", pa.float64())])))])
    >>> statistics_columns(s)
    ['at', 'items.list.element.price']
    """
    return _leaf_paths(schema, lambda name, kind: (pa.types.is_integer(kind)
                                                   or pa.types.is_floating(kind)))


def _leaf_paths(schema: pa.Schema, keep: Callable[[str, pa.DataType], bool]) -> list[str]:
    """The Parquet paths of ``schema``'s leaf columns (at any depth; a list's values are
    ``<list>.list.element``, a map's ``<map>.key_value.key`` and ``.value``) for which
    ``keep(field name, type)`` holds."""
    paths: list[str] = []

    def visit(kind: pa.DataType, name: str, path: str) -> None:
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                child = kind.field(i)
                visit(child.type, child.name, f"{path}.{child.name}")
        elif pa.types.is_map(kind):
            visit(kind.key_type, name, f"{path}.key_value.key")
            visit(kind.item_type, name, f"{path}.key_value.value")
        elif pa.types.is_list(kind):
            visit(kind.value_type, name, f"{path}.list.element")
        elif keep(name, kind):
            paths.append(path)

    for f in schema:
        visit(f.type, f.name, f.name)
    return paths


@dataclass
class _File:
    """One partition's file of the current flush: its writer (once opened) and the
    batches waiting to become a row group."""

    stream: str
    schema: pa.Schema
    rows: int = 0
    waiting: list[pa.Table] = field(default_factory=list)
    waiting_rows: int = 0
    writer: pq.ParquetWriter | None = None


class FlushWriter:
    """Writes a flush's tables into ``directory``'s partitions; see the module's
    docstring."""

    def __init__(self, directory: Path, compression: str = "zstd",
                 row_group_rows: int = 65_536, durable: bool = True) -> None:
        self.directory = directory
        #: Whether :meth:`finish` fsyncs (not for a staging directory that an upload
        #: reads at once: :mod:`shopstream.lake.s3_sink`).
        self.durable = durable
        self.compression = compression
        self.row_group_rows = row_group_rows
        #: Rows and files written (complete files, counted at :meth:`finish`).
        self.rows: dict[str, int] = {}
        self.files = 0
        #: The files the last :meth:`finish` published.
        self.published: list[Path] = []
        self._open: dict[Path, _File] = {}
        #: Stream -> its dictionary-encoded columns and its columns with statistics.
        self._columns: dict[str, tuple[list[str], list[str]]] = {}
        #: (stream, UTC day number) -> the partition's folder.
        self._folders: dict[tuple[str, int], Path] = {}

    def put(self, stream: str, table: pa.Table, name: str, times: pa.Array) -> None:
        """Add ``table`` of ``stream`` (``times``: its rows' epoch ms, which pick the
        partitions) to the flush file ``name`` of each partition it touches."""
        try:
            for day, part in _by_day(table, times):
                folder = self._folders.get((stream, day))
                if folder is None:
                    folder = self._folders[(stream, day)] = (
                        self.directory / f"stream={stream}" / f"date={_date_name(day)}")
                path = folder / name
                entry = self._open.get(path)
                if entry is None:
                    entry = self._open[path] = _File(stream, table.schema)
                entry.waiting.append(part)
                entry.waiting_rows += part.num_rows
                if entry.waiting_rows >= self.row_group_rows:
                    self._write(path, entry)
        except (OSError, pa.ArrowException) as exc:
            msg = (f"lake writer: cannot write stream {stream!r} under "
                   f"{str(self.directory)!r}: {type(exc).__name__}: {exc}")
            raise LakeError(msg) from None

    def _write(self, path: Path, entry: _File) -> None:
        """Append the batches waiting for ``path`` to it as one row group."""
        if entry.writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            columns = self._columns.get(entry.stream)
            if columns is None:
                columns = self._columns[entry.stream] = (dictionary_columns(entry.schema),
                                                         statistics_columns(entry.schema))
            entry.writer = pq.ParquetWriter(str(tmp_name(path)), entry.schema,
                                            compression=self.compression,
                                            use_dictionary=columns[0],
                                            write_statistics=columns[1])
        table = (entry.waiting[0] if len(entry.waiting) == 1
                 else pa.concat_tables(entry.waiting))
        entry.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        entry.rows += table.num_rows
        entry.waiting = []
        entry.waiting_rows = 0

    def finish(self) -> None:
        """Write what waits, then close, fsync and rename the flush's files."""
        self.published = []
        try:
            for path, entry in self._open.items():
                if entry.waiting:
                    self._write(path, entry)
                if entry.writer is None:
                    continue
                entry.writer.close()
                if self.durable:
                    publish(tmp_name(path), path)
                else:
                    os.replace(tmp_name(path), path)
                self.published.append(path)
                self.rows[entry.stream] = self.rows.get(entry.stream, 0) + entry.rows
                self.files += 1
        except OSError as exc:
            msg = f"cannot write lake file {exc.filename!r}: {exc.strerror}"
            raise LakeError(msg) from None
        except pa.ArrowException as exc:
            msg = (f"lake writer: cannot write under {str(self.directory)!r}: "
                   f"{type(exc).__name__}: {exc}")
            raise LakeError(msg) from None
        finally:
            self._open.clear()

    def abandon(self) -> None:
        """Close the open files without publishing them (they stay ``.tmp``: a kill)."""
        for entry in self._open.values():
            if entry.writer is not None:
                entry.writer.close()
        self._open.clear()
