"""Compaction of a lake in object storage: ``lake compact s3://BUCKET/PREFIX``.

As on a local lake (:mod:`shopstream.lake.compact`), each partition's committed files of
one run (one per flush) become one ``compacted-<run>-<id>.parquet``, rows in flush order.
Object storage has no rename, so the switch is a commit (:mod:`shopstream.lake.commits`):
the merged objects are PUT first, then one commit adds them and drops the files they
merge, then those files are deleted and the log is folded
(:mod:`shopstream.lake.commit_log`). A compaction killed before its commit leaves merged
objects no commit lists, which readers never read and the next compaction deletes.

A compaction is a writer: it holds the lake's lock (:mod:`shopstream.lake.lease`), so no
run writes meanwhile, and it deletes the objects no commit lists (a killed writer's
uploads whose commit never landed). As on a local lake, do not compact while a run is
waiting to be resumed: when the compaction merges flushes of that run after its
checkpoint, its ``--resume`` is refused (the merged object keeps those rows) and the run
must start again without it.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.lake.commit_log import fold_log, read_log
from shopstream.lake.commits import COMMITS, Commit, write_commit
from shopstream.lake.compact import CompactionSummary
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.runs import run_of_file

__all__ = ["compact_s3"]


def compact_s3(url: str, min_files: int = 2, compression: str = "zstd") -> CompactionSummary:
    """Merge every partition of the lake at ``url`` with ``min_files`` or more committed
    files of one run into one file per run."""
    store = ObjectStore(parse_s3_url(url))
    store.check_bucket()
    lease = LeaseLock(store, f"compact-{uuid.uuid4().hex[:8]}")
    lease.acquire()
    try:
        log = read_log(store)
        live = log.live_keys()
        orphans = sorted(set(store.keys("stream=")) - set(live))
        store.delete(orphans)
        groups: dict[tuple[str, str], list[str]] = {}
        for key in live:
            folder, _, name = key.rpartition("/")
            if folder.startswith("stream="):
                groups.setdefault((folder, run_of_file(name) or "x"), []).append(key)
        filesystem = store.arrow_filesystem()
        adds: list[str] = []
        drops: list[str] = []
        rows = 0
        for (folder, run), keys in sorted(groups.items()):
            if len(keys) < max(min_files, 2):
                continue
            tables = [pq.read_table(store.path(k), filesystem=filesystem) for k in keys]
            try:
                merged = pa.concat_tables(tables)
            except pa.ArrowInvalid as exc:
                msg = f"cannot compact {url}/{folder}: its files' schemas differ ({exc})"
                raise LakeError(msg) from None
            sink = pa.BufferOutputStream()
            pq.write_table(merged, sink, compression=compression)
            target = f"{folder}/compacted-{run}-{uuid.uuid4().hex[:12]}.parquet"
            lease.check()
            store.put(target, sink.getvalue().to_pybytes())
            adds.append(target)
            drops.extend(keys)
            rows += merged.num_rows
        if adds:
            lease.check()
            write_commit(store, Commit(f"{COMMITS}compact-{uuid.uuid4().hex[:12]}.json",
                                       adds=tuple(adds), drops=tuple(drops)))
            store.delete(drops)
        if adds or log.commits:
            fold_log(store, lease)
    finally:
        lease.release()
    return CompactionSummary(len(adds), len(drops), len(adds), rows, len(orphans))
