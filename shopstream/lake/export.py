"""The shop database in the lake: each table copied to Parquet, incrementally by
``updated_at``.

Layout beside the streams (``DIR/table=NAME/...``)::

    DIR/table=orders/rows-000001.parquet    rows changed since the previous export
    DIR/table=orders/rows-000002.parquet
    DIR/table=orders/live_ids.parquet       primary keys present at the newest export
    DIR/_export.json                        per table: high-water mark, sequence, schema

An export reads every table in one ``REPEATABLE READ`` transaction (one consistent
snapshot) and writes the rows with ``high_water < updated_at <= cutoff``, where
``cutoff`` is the server's ``now() - lag``, then the table's primary keys, then the new
high-water mark (``cutoff``): files first, state last, each atomically, so an export
killed part-way is simply redone. The views (:func:`shopstream.lake.shop.shop_views`)
keep the newest version of each row whose key is in ``live_ids``:

* **updates** arrive as a new version of the row (its ``updated_at`` moved; the shop's
  trigger moves it on every update) and replace the older one in the views;
* **deletes** leave no row to copy: the key list written at each export (one column, a
  few bytes per row) drops them from the views;
* a transaction that commits more than ``lag`` seconds after it stamped ``updated_at``
  is not seen by the next export (its rows are older than the high-water mark by then);
  ``lag`` (default 10 s) bounds that, and ``full=True`` (``lake export --full``) copies
  everything again, e.g. after a backfill that writes old ``updated_at`` values.

Types are kept: ``numeric(p, s)`` is ``decimal128(p, s)``, ``timestamptz`` is
``timestamp[us, UTC]``, integers keep their width and stay integers when NULL, text is
string. A table whose columns change gets its schema version raised and is exported
again in full (:data:`EXPORT_FORMAT` numbers this layout).

Examples
--------
>>> arrow_type("numeric", 12, 2)
Decimal128Type(decimal128(12, 2))
>>> arrow_type("timestamp with time zone", None, None)
TimestampType(timestamp[us, tz=UTC])
>>> arrow_type("integer", 32, 0)
DataType(int32)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.files import publish, replace_json, tmp_name
from shopstream.shopdb.connection import ShopDbError, connect, describe, psycopg2
from shopstream.shopdb.schema import TABLES

__all__ = ["EXPORT_FORMAT", "STATE_FILE", "ExportConfig", "ExportSummary", "TableExport",
           "arrow_type", "export", "read_state"]

#: Version of the export layout and type mapping, written into every file's metadata.
EXPORT_FORMAT = 1
#: The export's state, at the lake's root.
STATE_FILE = "_export.json"
_BATCH = 50_000
_KEY_BATCH = 500_000

_SIMPLE: dict[str, pa.DataType] = {
    "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
    "boolean": pa.bool_(), "real": pa.float32(), "double precision": pa.float64(),
    "text": pa.string(), "character": pa.string(), "character varying": pa.string(),
    "date": pa.date32(), "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "timestamp without time zone": pa.timestamp("us"), "bytea": pa.binary(),
}


def arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    """The Arrow type of a PostgreSQL column (``information_schema.columns.data_type``);
    types without an Arrow twin (json, uuid, arrays...) are copied as their text."""
    if data_type == "numeric":
        if precision is None:  # unconstrained numeric: wide enough for money and ratios
            return pa.decimal128(38, 9)
        return pa.decimal128(precision, scale or 0)
    return _SIMPLE.get(data_type, pa.string())


@dataclass(frozen=True)
class ExportConfig:
    """What ``shopstream lake export`` copies.

    Parameters
    ----------
    tables
        Tables to copy (default: every table of the shop schema).
    lag_s
        Rows stamped in the last ``lag_s`` seconds wait for the next export, so that a
        transaction still open at the snapshot is not skipped (see the module notes).
    full
        Forget the high-water marks and copy every row again.

    Examples
    --------
    >>> ExportConfig(lag_s=-1)
    Traceback (most recent call last):
    ...
    shopstream.lake.errors.LakeError: ExportConfig.lag_s must be a number >= 0, got -1
    """

    tables: tuple[str, ...] = TABLES
    lag_s: float = 10.0
    full: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tables) - set(TABLES))
        if unknown or not self.tables:
            msg = f"ExportConfig.tables: unknown {unknown}; known: {list(TABLES)}"
            raise LakeError(msg)
        if (not isinstance(self.lag_s, (int, float)) or isinstance(self.lag_s, bool)
                or self.lag_s < 0):
            msg = f"ExportConfig.lag_s must be a number >= 0, got {self.lag_s!r}"
            raise LakeError(msg)


@dataclass(frozen=True)
class TableExport:
    """One table's part of an export: rows copied, live keys, schema version."""

    table: str
    rows: int
    live: int
    schema_version: int
    full: bool


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export` did, per table, and the new high-water mark (ISO-8601)."""

    tables: list[TableExport] = field(default_factory=list)
    high_water: str = ""

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def read_state(directory: str | Path) -> dict[str, Any]:
    """The export state of the lake at ``directory`` (empty when never exported)."""
    path = Path(directory) / STATE_FILE
    if not path.exists():
        return {"format": EXPORT_FORMAT, "tables": {}}
    state: dict[str, Any] = json.loads(path.read_text())
    return state


def _write_state(directory: Path, state: dict[str, Any]) -> None:
    replace_json(directory / STATE_FILE, state)


Progress = Callable[[str, int, int], None]


def export(dsn: str, directory: str | Path, config: ExportConfig | None = None,
           progress: Progress | None = None) -> ExportSummary:
    """Copy the shop tables changed since the last export into the lake at ``directory``.

    ``progress(table, rows_done, rows_total)`` is called after each batch. Cost: the
    changed rows plus one key per live row of each table; memory: one batch of
    50,000 rows.
    """
    config = config or ExportConfig()
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create lake directory {str(directory)!r}: {exc.strerror}"
        raise LakeError(msg) from None
    state = read_state(root)
    conn = connect(dsn)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn:
            with conn.cursor() as cur:
                cur.execute("SELECT now() - make_interval(secs => %s)", (config.lag_s,))
                cutoff = _one(cur)
            done = [_export_table(conn, root, table, cutoff, state, config, progress)
                    for table in config.tables]
    except psycopg2().Error as exc:
        raise ShopDbError(describe(exc, dsn)) from None
    finally:
        conn.close()
    return ExportSummary(done, cutoff.isoformat())


def _one(cur: Any) -> Any:
    row: Any = cur.fetchone()
    return row[0]


def _columns(conn: Any, table: str) -> tuple[list[str], pa.Schema, list[str]]:
    """Column names, their Arrow schema and the primary key of ``table``."""
    with conn.cursor() as cur:
        cur.execute("SELECT column_name, data_type, numeric_precision, numeric_scale, "
                    "is_nullable FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = %s ORDER BY ordinal_position", (table,))
        rows = cur.fetchall()
        if not rows:
            msg = f"lake export: table {table!r} does not exist (run `shopstream db init`)"
            raise LakeError(msg)
        cur.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                    "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass "
                    "AND i.indisprimary ORDER BY a.attnum", (table,))
        key = [r[0] for r in cur.fetchall()]
    names = [r[0] for r in rows]
    if "updated_at" not in names or not key:
        msg = f"lake export: table {table!r} needs an updated_at column and a primary key"
        raise LakeError(msg)
    selects = [f'"{name}"' if kind in _SIMPLE or kind == "numeric" else f'"{name}"::text'
               for name, kind, *_ in rows]
    schema = pa.schema([pa.field(name, arrow_type(kind, prec, scale), nullable != "NO")
                        for name, kind, prec, scale, nullable in rows])
    return selects, schema, key


def _fingerprint(schema: pa.Schema) -> str:
    return hashlib.sha256(str(schema).encode()).hexdigest()[:16]


def _export_table(conn: Any, root: Path, table: str, cutoff: Any, state: dict[str, Any],
                  config: ExportConfig, progress: Progress | None) -> TableExport:
    selects, schema, key = _columns(conn, table)
    folder = root / f"table={table}"
    entry = state["tables"].get(table)
    fingerprint = _fingerprint(schema)
    version = 1 if entry is None else entry["schema_version"]
    full = config.full or entry is None or entry["fingerprint"] != fingerprint
    if entry is not None and entry["fingerprint"] != fingerprint:
        version += 1
    if full:
        # Forget the table first: an export killed while deleting starts over in full.
        if state["tables"].pop(table, None) is not None:
            _write_state(root, state)
        for old in folder.glob("*.parquet"):
            old.unlink()
    seq = 0 if full else entry["seq"]
    since = None if full else entry["high_water"]
    meta = {"shopstream.export_format": str(EXPORT_FORMAT), "shopstream.table": table,
            "shopstream.schema_version": str(version)}
    schema = schema.with_metadata(meta)
    where = "updated_at <= %s" + ("" if since is None else " AND updated_at > %s")
    params = (cutoff,) if since is None else (cutoff, since)
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)  # names are ours
        total = int(_one(cur))
    rows = 0
    if total or seq == 0:  # a first export writes a file even when empty: the schema
        seq += 1
        with conn.cursor(name=f"shopstream_export_{table}") as cur, _Writer(
                folder / f"rows-{seq:06d}.parquet", schema) as writer:
            cur.itersize = _BATCH
            cur.execute(f"SELECT {', '.join(selects)} FROM {table} WHERE {where} "
                        f"ORDER BY {', '.join(key)}", params)
            while chunk := cur.fetchmany(_BATCH):
                writer.write(_to_batch(table, chunk, schema))
                rows += len(chunk)
                if progress is not None:
                    progress(table, rows, total)
    live = _write_keys(conn, folder, table, key, schema, meta)
    state["tables"][table] = {"high_water": cutoff.isoformat(), "seq": seq,
                              "schema_version": version, "fingerprint": fingerprint,
                              "key": key, "live": live}
    state["format"] = EXPORT_FORMAT
    _write_state(root, state)
    return TableExport(table, rows, live, version, full)


def _to_batch(table: str, rows: Sequence[tuple[Any, ...]], schema: pa.Schema,
              ) -> pa.RecordBatch:
    columns = []
    for f, values in zip(schema, zip(*rows, strict=True), strict=True):
        try:
            columns.append(pa.array(values, type=f.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            msg = f"lake export: {table}.{f.name} does not fit {f.type}: {exc}"
            raise LakeError(msg) from None
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _write_keys(conn: Any, folder: Path, table: str, key: list[str], schema: pa.Schema,
                meta: dict[str, str]) -> int:
    """Write the primary keys the snapshot holds; return how many."""
    key_schema = pa.schema([schema.field(k) for k in key]).with_metadata(meta)
    live = 0
    with conn.cursor(name=f"shopstream_keys_{table}") as cur, _Writer(
            folder / "live_ids.parquet", key_schema) as writer:
        cur.itersize = _KEY_BATCH
        cur.execute(f"SELECT {', '.join(key)} FROM {table} ORDER BY {', '.join(key)}")
        while chunk := cur.fetchmany(_KEY_BATCH):
            writer.write(_to_batch(table, chunk, key_schema))
            live += len(chunk)
    return live


class _Writer:
    """A Parquet file written batch by batch (one row group each, memory: one batch),
    under a temporary name, fsynced and renamed into place only when complete."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.tmp = tmp_name(path)
        self.schema = schema
        self._written = False

    def __enter__(self) -> _Writer:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.tmp, "wb")
        except OSError as exc:
            msg = f"cannot write lake file {str(self.path)!r}: {exc.strerror}"
            raise LakeError(msg) from None
        self._writer = pq.ParquetWriter(self._handle, self.schema, compression="zstd")
        return self

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def __exit__(self, kind: object, *_: object) -> None:
        self._writer.close()
        self._handle.close()
        if kind is not None:
            self.tmp.unlink(missing_ok=True)
            return
        publish(self.tmp, self.path)
