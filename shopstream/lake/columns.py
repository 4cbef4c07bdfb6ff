"""Records to Arrow: a stream's records are kept as they are written, and every batch of
them becomes an Arrow table in one pass per column, with no Python call per field.

How a batch is converted: each column's values are read from all the records at once,
``list(map(attrgetter(field), records))`` (C code, and no temporary tuple per record for
the garbage collector to count), and each column becomes an array with one ``pa.array``
call (Arrow's C++ reads tuples, ``None``, strings, numbers, dicts and the enums' string
values). Nested records are taken apart the same way, a level at a time: a column of
records (a struct) is read into its fields' columns; a column of tuples of records (a
list of structs) is flattened end to end (``itertools.chain``), its lengths read with
``operator.length_hint`` (0 for ``None``), and the flat records read into their fields'
columns. The only Python loop per row is for a column that holds ``None`` records or
records of several types (rare: a ``None`` struct, records of an older version).

Fields go to their columns by name, once per record type: every field of the record must
have a column (else the record is not this stream's: :class:`~shopstream.lake.errors.
LakeError` when its batch is converted), and a column the record has no field for (one a newer
version of the record brings) is null.

Why keep the records rather than fill column lists as they come (this module's first
version): filling lists cost one C call per field and a Python call per record and per
nested record (about 0.35 s CPU for a simulated week's 104,000 lake rows, of which the
transposition here costs a tenth), and the reason for it, the garbage collector, no
longer holds: the embedded runner raises the young-generation threshold to 20,000
(:mod:`shopstream.runners.embedded.collector`) and the records of the biggest streams
(events, baskets, windows) are untracked structs, so a batch of kept records changes
neither the number of collections nor their time (measured: docs/lake.md). Records are
frozen structs, so keeping one until its batch is converted sees the values it was
written with.

Memory: ``batch_rows`` records per stream (the sink's), and one batch's column tuples
while it is converted.

Examples
--------
>>> from shopstream.events.records import DeadLetter
>>> columns = StreamColumns("dead-letter")
>>> columns.add(DeadLetter("decode", "bad", "x", "in", 3))
>>> len(columns)
1
>>> table = columns.table()
>>> table.column_names
['stage', 'reason', 'raw', 'source', 'offset', 'raw_encoding']
>>> table.schema.metadata[b"shopstream.schema_version"], len(columns)
(b'2', 0)
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate, chain, repeat
from operator import is_, length_hint
from typing import Any

import pyarrow as pa
from msgspec.structs import astuple

from shopstream.lake.errors import LakeError
from shopstream.lake.schemas import SCHEMAS, table_metadata

__all__ = ["StreamColumns", "to_table"]

#: Records transposed at a time: their value tuples are the only temporary objects the
#: garbage collector counts, so a chunk stays far below the runner's young threshold.
_CHUNK = 512
#: Runs an iterator to its end, keeping nothing.
_consume: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend


class _Null:
    """Stands for a ``None`` record: every field is ``None``."""

    def __getattr__(self, name: str) -> None:
        return None


_NULL = _Null()


class _Fields:
    """The columns of a struct (a stream's row or a nested record) and the record types
    checked against them."""

    def __init__(self, fields: Sequence[pa.Field], where: str) -> None:
        self.fields = list(fields)
        self.where = where
        self.names = tuple(f.name for f in fields)
        #: Record type -> its fields, in order (checked: each has a column).
        self.kinds: dict[type, tuple[str, ...]] = {}
        self.children: dict[str, _Fields] = {}
        for f in self.fields:
            record = _record_type(f.type)
            if record is not None:
                self.children[f.name] = _Fields(
                    [record.field(i) for i in range(record.num_fields)], f"{where}.{f.name}")

    def check(self, kind: type) -> tuple[str, ...]:
        """The fields of ``kind`` records; refuses a record with a field without a column."""
        known = self.kinds.get(kind)
        if known is not None:
            return known
        fields = getattr(kind, "__struct_fields__", None)
        if fields is None or not set(fields) <= set(self.names):
            extra = sorted(set(fields or ()) - set(self.names))
            msg = (f"{self.where}: a {kind.__name__} has fields {fields}, the lake's schema "
                   f"{self.names} (no column for {extra}): it is not this stream's record")
            raise LakeError(msg)
        self.kinds[kind] = tuple(fields)
        return self.kinds[kind]

    def columns(self, records: Sequence[Any]) -> list[list[Any]]:
        """The values of ``records`` (records or ``None``), one list per column.

        Records of one type are transposed ``_CHUNK`` at a time, ``zip(*map(astuple,
        chunk))``; a Python loop per row only for ``None`` records (read as all-null) and
        batches of several record types.
        """
        kinds = set(map(type, records))
        nulls = type(None) in kinds
        kinds.discard(type(None))
        fields = [self.check(kind) for kind in kinds]
        if nulls or len(fields) > 1:
            rows = [_NULL if r is None else r for r in records] if nulls else records
            return [[getattr(r, name, None) for r in rows] for name in self.names]
        own: list[list[Any]] = [[] for _ in fields[0]] if fields else []
        for start in range(0, len(records), _CHUNK):
            chunk = map(astuple, records[start:start + _CHUNK])
            _consume(map(list.extend, own, zip(*chunk, strict=False)))
        where = dict(zip(fields[0], own, strict=True)) if fields else {}
        return [where[name] if name in where else [None] * len(records)
                for name in self.names]

    def arrays(self, records: Sequence[Any]) -> list[pa.Array]:
        """One array per column of ``records``."""
        return [self._array(f, values)
                for f, values in zip(self.fields, self.columns(records), strict=True)]

    def _array(self, field: pa.Field, values: Sequence[Any]) -> pa.Array:
        kind = field.type
        child = self.children.get(field.name)
        if child is None:
            return _plain(kind, values, f"{self.where}.{field.name}")
        mask = _mask(values)
        if pa.types.is_struct(kind):
            return pa.StructArray.from_arrays(child.arrays(values), fields=child.fields,
                                              mask=mask)
        lengths = map(length_hint, values)  # None: 0
        flat = list(chain.from_iterable(filter(None, values)))
        offsets = pa.array([0, *accumulate(lengths)], pa.int32())
        items = pa.StructArray.from_arrays(child.arrays(flat), fields=child.fields,
                                           mask=_mask(flat))
        return pa.ListArray.from_arrays(offsets, items, type=kind, mask=mask)


def _record_type(kind: pa.DataType) -> pa.StructType | None:
    """The struct whose fields are records' fields: a struct, or a list of structs."""
    if pa.types.is_struct(kind):
        return kind
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        return kind.value_type
    return None


def _plain(kind: pa.DataType, values: Sequence[Any], where: str) -> pa.Array:
    """Strings, numbers, enums, tuples of them and dicts, as Arrow reads them."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        msg = f"{where} does not fit {kind}: {exc}"
        raise LakeError(msg) from None


def _mask(values: Sequence[Any]) -> pa.Array | None:
    """True at the positions of ``None`` (``None`` when there are none)."""
    if None not in values:
        return None
    return pa.array(list(map(is_, values, repeat(None))), pa.bool_())


class StreamColumns:
    """The records of one stream written since the last :meth:`table`."""

    def __init__(self, stream: str) -> None:
        schema = SCHEMAS.get(stream)
        if schema is None:
            msg = f"the lake has no schema for stream {stream!r}"
            raise LakeError(msg)
        self.stream = stream
        self.schema = schema.with_metadata(table_metadata(stream))
        self._fields = _Fields(list(schema), f"stream {stream!r}")
        #: The records waiting for the next table, in the order they came.
        self.records: list[Any] = []
        #: Keeps one record for the next table (a bound ``list.append``: no Python call;
        #: a record with a field that has no column is refused by :meth:`table`).
        self.add: Callable[[Any], None] = self.records.append

    def __len__(self) -> int:
        return len(self.records)

    def table(self) -> pa.Table:
        """The records added so far as a table with the stream's schema; starts over."""
        # The batch's temporaries (value tuples, column lists, nested records' lists) are
        # acyclic and gone when it returns: counted by the cycle collector, they would
        # start young collections (and promote the records still waiting in the other
        # streams to the older generations), so it is paused while the batch converts.
        paused = gc.isenabled()
        gc.disable()
        try:
            arrays = self._fields.arrays(self.records)
        finally:
            self.records.clear()
            if paused:
                gc.enable()
        return pa.Table.from_arrays(arrays, schema=self.schema)


def to_table(stream: str, records: Iterable[Any]) -> pa.Table:
    """``records`` of ``stream`` as an Arrow table with the stream's schema."""
    columns = StreamColumns(stream)
    for record in records:
        columns.add(record)
    return columns.table()
