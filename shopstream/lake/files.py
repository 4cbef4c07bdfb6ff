"""Durable file writes shared by the lake's writers: a file appears under its name only
complete and fsynced, and the rename itself is made durable.

Examples
--------
>>> import pathlib, tempfile
>>> import pyarrow as pa
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_parquet(pa.table({"n": [1, 2]}), d / "x" / "t.parquet")
>>> replace_json(d / "state.json", {"seq": 3})
>>> sorted(p.relative_to(d).as_posix() for p in d.rglob("*"))
['state.json', 'x', 'x/t.parquet']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# fsync_directory and publish live in the pyarrow-free shopstream.durable (the embedded
# runner's checkpoints use them too); importable from here as before.
from shopstream.durable import fsync_directory, publish
from shopstream.lake.errors import LakeError

__all__ = ["fsync_directory", "publish", "replace_json", "tmp_name", "write_parquet"]


def tmp_name(path: Path) -> Path:
    """Where ``path`` is written before it is complete.

    >>> tmp_name(Path("a/part-1.parquet")).as_posix()
    'a/part-1.parquet.tmp'
    """
    return path.with_name(path.name + ".tmp")


def replace_json(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON in one rename (readers see the old or the new
    text, never a part)."""
    tmp = tmp_name(path)
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def write_parquet(table: pa.Table, path: Path, compression: str = "zstd") -> None:
    """Write ``table`` to ``path`` atomically and durably (temporary name, fsync, rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(path)
        pq.write_table(table, str(tmp), compression=compression)
        publish(tmp, path)
    except OSError as exc:
        msg = f"cannot write lake file {str(path)!r}: {exc.strerror}"
        raise LakeError(msg) from None
