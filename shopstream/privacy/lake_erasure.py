"""Removing one shopper's rows from the Parquet lake (:mod:`shopstream.lake`).

Every ``part-*.parquet`` file under the lake is read and, when it holds rows of the
shopper, rewritten without them (atomically: temporary name, fsync, rename; a file left
with no row is deleted). A row is theirs when:

- a string column, a list of strings or a string inside a struct column equals one of
  their ids (``user_id``, ``user_ids`` of fraud evidence, the ``event`` of a late event);
- its ``session_id`` (top level or in a struct) is one of their sessions: the sessions
  of their rows are collected first, so session-level rows without a user id go too;
- a ``raw`` column (dead letters) holds one of their ids as a JSON string.

Cost: one read of the whole lake and one rewrite of each file that held their rows; run
it while no ``run --lake`` is writing the lake (as for ``lake compact``).

A lake on S3 (``s3://BUCKET/PREFIX``) is erased by :mod:`shopstream.privacy.s3_erasure`:
the same rows go, the files are replaced through one commit of the lake's commit log.

Examples
--------
>>> from shopstream.events.model import EventType, ShopperEvent
>>> from shopstream.lake.sink import started_sink
>>> sink = started_sink()
>>> d = sink.directory
>>> for user, session in (("ann", "s1"), ("bo", "s2"), ("ann", "s3")):
...     sink.write_event(ShopperEvent(EventType.PAGE_VIEW, 1_000, session, user_id=user))
>>> sink.close()
>>> erase_from_lake(d, frozenset({"ann"}))
LakeErasure(files_rewritten=1, files_deleted=0, rows_removed={'events': 2}, sessions=['s1', 's3'])
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.object_store import is_s3_url
from shopstream.lake.sink import write_parquet

__all__ = ["LakeErasure", "compression_of", "erase_from_lake", "lake_files", "row_mask",
           "stream_of", "their_sessions"]


@dataclass
class LakeErasure:
    """What :func:`erase_from_lake` removed: rows per stream, and the sessions found."""

    files_rewritten: int = 0
    files_deleted: int = 0
    rows_removed: dict[str, int] = field(default_factory=dict)
    sessions: list[str] = field(default_factory=list)
    #: The commit that replaced the files (a lake on S3), or ``""``.
    commit: str = field(default="", repr=False)


def lake_files(directory: str | Path) -> list[Path]:
    """The Parquet files of a lake, in name order."""
    return sorted(p for p in Path(directory).rglob("*.parquet") if p.is_file())


def stream_of(path: Path) -> str:
    """The stream of a lake file, from its ``stream=NAME`` folder.

    >>> stream_of(Path("stream=events/date=2026-03-01/part-a-000001.parquet"))
    'events'
    """
    for part in path.parts:
        if part.startswith("stream="):
            return part[len("stream="):]
    return path.parent.name


def _matches(column: pa.ChunkedArray | pa.Array, name: str, ids: pa.Array,
             sessions: pa.Array, quoted: list[str]) -> pa.Array | None:
    """A boolean mask of the rows of ``column`` that belong to the shopper, or ``None``."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    masks: list[pa.Array] = []
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        masks.append(pc.is_in(array, value_set=ids))
        if name == "session_id" and len(sessions):
            masks.append(pc.is_in(array, value_set=sessions))
        if name == "raw":
            for text in quoted:
                masks.append(pc.match_substring(array, text))
    elif pa.types.is_list(kind) and pa.types.is_string(kind.value_type):
        flat = pc.list_flatten(array)
        hit = pc.is_in(flat, value_set=ids)
        parents = pc.list_parent_indices(array)
        rows = pc.unique(pc.filter(parents, hit)).cast(pa.int64())
        masks.append(pc.is_in(pa.array(range(len(array)), pa.int64()), value_set=rows))
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            child = pc.struct_field(array, [i])
            found = _matches(child, kind.field(i).name, ids, sessions, quoted)
            if found is not None:
                masks.append(found)
    if not masks:
        return None
    mask = masks[0]
    for other in masks[1:]:
        mask = pc.or_kleene(mask, other)
    return pc.fill_null(mask, False)


def row_mask(table: pa.Table, ids: pa.Array, sessions: pa.Array,
             quoted: list[str]) -> pa.Array | None:
    """A boolean mask of the rows of ``table`` that belong to the shopper of ``ids`` or
    ``sessions`` (``quoted``: the ids as JSON strings, for ``raw`` columns), or ``None``
    when no column can hold them."""
    mask = None
    for name in table.column_names:
        found = _matches(table.column(name), name, ids, sessions, quoted)
        if found is not None:
            mask = found if mask is None else pc.or_(mask, found)
    return mask


def their_sessions(files: Iterable[pq.ParquetFile], ids: pa.Array) -> set[str]:
    """The sessions of the rows of ``files`` whose ``user_id`` is one of ``ids``."""
    found: set[str] = set()
    for file in files:
        names = file.schema_arrow.names
        if "session_id" not in names or "user_id" not in names:
            continue
        table = file.read(columns=["session_id", "user_id"])
        mine = pc.is_in(table.column("user_id"), value_set=ids)
        found.update(s for s in pc.filter(table.column("session_id"), pc.fill_null(mine, False))
                     .to_pylist() if s is not None)
    return found


def erase_from_lake(directory: str | Path, ids: frozenset[str],
                    sessions: Iterable[str] = ()) -> LakeErasure:
    """Rewrite the lake under ``directory`` without the rows of the shopper of ``ids``
    (and of ``sessions``, plus the sessions their rows name); a lake on S3 through its
    commit log (:func:`~shopstream.privacy.s3_erasure.erase_from_s3_lake`)."""
    if is_s3_url(str(directory)):
        from shopstream.privacy.s3_erasure import erase_from_s3_lake

        return erase_from_s3_lake(str(directory), ids, sessions)
    root = Path(directory)
    if not root.is_dir():
        msg = f"erase: the lake {str(root)!r} is not a directory"
        raise LakeError(msg)
    files = lake_files(root)
    id_set = pa.array(sorted(ids), pa.string())
    try:
        all_sessions = set(sessions) | their_sessions(map(pq.ParquetFile, files), id_set)
        session_set = pa.array(sorted(all_sessions), pa.string())
        quoted = [json.dumps(one) for one in sorted(ids)]
        result = LakeErasure(sessions=sorted(all_sessions))
        for path in files:
            table = pq.read_table(path)
            mask = row_mask(table, id_set, session_set, quoted)
            if mask is None:
                continue
            hits = pc.sum(mask.cast(pa.int64())).as_py() or 0
            if not hits:
                continue
            stream = stream_of(path)
            result.rows_removed[stream] = result.rows_removed.get(stream, 0) + hits
            if hits == table.num_rows:
                path.unlink()
                result.files_deleted += 1
                continue
            kept = table.filter(pc.invert(mask))
            compression = compression_of(pq.ParquetFile(path))
            write_parquet(kept, path, compression)
            result.files_rewritten += 1
    except (OSError, pa.ArrowException) as exc:
        msg = f"erase: cannot rewrite the lake {str(root)!r}: {exc}"
        raise LakeError(msg) from None
    return result


def compression_of(file: pq.ParquetFile) -> str:
    """The compression of ``file``'s first column chunk (``zstd`` when it has none)."""
    meta = file.metadata
    if meta.num_row_groups and meta.row_group(0).num_columns:
        return str(meta.row_group(0).column(0).compression).lower()
    return "zstd"
