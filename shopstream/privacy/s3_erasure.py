"""Removing one shopper's rows from a lake on S3-compatible storage (``s3://BUCKET/PREFIX``).

The rows that go are those :mod:`shopstream.privacy.lake_erasure` removes from a local
lake (their ids in any string, list or struct column, their sessions, ``raw`` dead
letters naming them). Object storage has no rename, so the files are replaced through the
lake's commit log, as a compaction replaces them (:mod:`shopstream.lake.s3_rewrite`):
under the lake's lock, each committed object holding their rows is written again without
them under a new key (an object left with no row gets none) and PUT at once, then one commit
``_commits/erase-<id>.json`` adds the new objects and drops the old ones, then the old
objects are deleted. Readers see the lake before the erasure or after it, never half of
it; an erasure killed before its commit changed nothing readers read (run it again), one
killed after it has erased them (the old objects, no longer read, are deleted by the next
erasure, retention sweep or compaction).

Like compaction, an erasure is a writer: a run writing the lake meanwhile refuses it with
one line naming the run (erase when the run has ended, or stop it first). A run waiting to
be resumed whose flushes after its checkpoint held their rows must start again without
``--resume`` (it would write those rows again; its resume says so).

Cost: one read of every committed object and one PUT of each that held their rows.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.s3_rewrite import commit_changes, locked_lake, put_new, replacement_key
from shopstream.privacy.lake_erasure import (
    LakeErasure,
    compression_of,
    row_mask,
    stream_of,
    their_sessions,
)

__all__ = ["erase_from_s3_lake"]


def erase_from_s3_lake(url: str, ids: frozenset[str],
                       sessions: Iterable[str] = ()) -> LakeErasure:
    """Replace the committed objects of the lake at ``url`` holding rows of the shopper of
    ``ids`` (and of ``sessions``, plus the sessions their rows name) through one commit.

    >>> erase_from_s3_lake.__name__
    'erase_from_s3_lake'
    """
    location = parse_s3_url(url)
    store = ObjectStore(location)
    with locked_lake(store, f"erase-{uuid.uuid4().hex[:12]}") as (lease, log):
        keys = [k for k in log.live_keys() if k.startswith("stream=")]
        filesystem = store.arrow_filesystem()

        def open_file(key: str) -> pq.ParquetFile:
            return pq.ParquetFile(store.path(key), filesystem=filesystem)

        id_set = pa.array(sorted(ids), pa.string())
        adds: list[str] = []
        drops: list[str] = []
        try:
            all_sessions = set(sessions) | their_sessions(map(open_file, keys), id_set)
            session_set = pa.array(sorted(all_sessions), pa.string())
            quoted = [json.dumps(one) for one in sorted(ids)]
            result = LakeErasure(sessions=sorted(all_sessions))
            erasure = uuid.uuid4().hex[:12]
            for key in keys:
                file = open_file(key)
                table = file.read()
                mask = row_mask(table, id_set, session_set, quoted)
                hits = 0 if mask is None else pc.sum(mask.cast(pa.int64())).as_py() or 0
                if not hits:
                    continue
                stream = stream_of(Path(key))
                result.rows_removed[stream] = result.rows_removed.get(stream, 0) + hits
                drops.append(key)
                if hits == table.num_rows:
                    result.files_deleted += 1
                    continue
                sink = pa.BufferOutputStream()
                pq.write_table(table.filter(pc.invert(mask)), sink,
                               compression=compression_of(file))
                new_key = replacement_key(key, f"{erasure}{len(adds):04d}")
                put_new(store, lease, new_key, sink.getvalue().to_pybytes())
                adds.append(new_key)
                result.files_rewritten += 1
        except (OSError, pa.ArrowException) as exc:
            with contextlib.suppress(LakeError):  # else the next change deletes them
                store.delete(adds)
            msg = f"erase: cannot rewrite the lake {location.url}: {exc}"
            raise LakeError(msg) from None
        result.commit = commit_changes(store, lease, "erase", adds, drops)
    return result
