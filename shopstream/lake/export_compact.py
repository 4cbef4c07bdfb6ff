"""Compaction of the exported shop tables: each export adds a ``rows-<seq>.parquet`` per
table (the rows changed since the one before), so a lake exported every few minutes
gathers many small files, most of them holding versions of rows that later ones replaced
or that were deleted since. Compaction rewrites a table's files as one: what its view
shows (the newest version of each live key, :func:`shopstream.lake.shop.table_sql`),
ordered by the key, under the newest file's name and schema.

Crash safety without a journal: the merged file replaces the newest file in one rename
(temporary name, fsync, rename), then the older files are deleted. Stopped before the
rename, nothing changed (the temporary file is removed by the next compaction); stopped
after it, the older files still present hold only versions the merged file replaces (the
view keeps each key's row from the last file by name) or keys ``live_ids`` leaves out.
The next export writes ``rows-<seq+1>``, after the merged file by name.

Do not compact while an export of the same lake is running.

Cost: one read of the table's files; memory: the table's live rows as Arrow.

Examples
--------
>>> import pathlib, tempfile
>>> compact_tables(pathlib.Path(tempfile.mkdtemp()))  # doctest: +NORMALIZE_WHITESPACE
CompactionSummary(partitions=0, files_before=0, files_after=0, rows=0, orphans=0,
                  skipped=())
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.lake.compact import CompactionSummary
from shopstream.lake.errors import LakeError
from shopstream.lake.files import write_parquet
from shopstream.lake.shop import exported, table_sql

__all__ = ["compact_tables"]


def compact_tables(directory: str | Path, min_files: int = 2) -> CompactionSummary:
    """Merge the files of each exported table of the lake at ``directory`` that has
    ``min_files`` or more (``partitions`` in the summary: tables rewritten)."""
    root = Path(directory)
    if not root.is_dir():
        msg = f"lake directory {str(directory)!r} does not exist"
        raise LakeError(msg)
    tables = before = rows = 0
    for table, key in exported(root).items():
        folder = root / f"table={table}"
        for tmp in folder.glob("rows-*.parquet.tmp"):
            tmp.unlink()
        files = sorted(folder.glob("rows-*.parquet"))
        if len(files) < max(min_files, 2):
            continue
        rows += _merge(folder, key, files)
        tables += 1
        before += len(files)
    return CompactionSummary(tables, before, tables, rows)


def _merge(folder: Path, key: list[str], files: list[Path]) -> int:
    newest = files[-1]
    schema = pq.read_schema(newest)
    order = ", ".join(f'"{k}"' for k in key)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        live = con.sql(f"{table_sql(folder, key)} ORDER BY {order}").to_arrow_table()
    except duckdb.Error as exc:
        msg = f"cannot compact {str(folder)!r}: {exc}"
        raise LakeError(msg) from None
    finally:
        con.close()
    try:
        merged = live.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        msg = f"cannot compact {str(folder)!r}: its files' schemas differ ({exc})"
        raise LakeError(msg) from None
    write_parquet(merged, newest)
    for old in files[:-1]:
        old.unlink()
    return int(merged.num_rows)
