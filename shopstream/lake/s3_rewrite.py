"""Replacing and dropping committed objects of a lake in object storage, as one commit.

What an erasure (:mod:`shopstream.privacy.s3_erasure`) and a retention sweep
(:mod:`shopstream.jobs.retention`) do to a lake on S3, the way a compaction does
(:mod:`shopstream.lake.s3_compact`): under the lake's lock (:mod:`shopstream.lake.lease`),
:func:`locked_lake` deletes the objects no commit lists (a killed writer's uploads, and
the dropped objects of a change killed before it deleted them) and reads the commit log;
:func:`put_new` PUTs each new object as soon as it is built (one in memory at a time);
:func:`commit_changes` writes one commit (``_commits/<kind>-<id>.json``) that adds them
and drops the objects they replace (or that go), then deletes the dropped objects and
folds the log (:mod:`shopstream.lake.commit_log`).
Readers see the lake before the commit or after it, never half a change. A change killed
before its commit leaves objects no commit lists, deleted by the next change or
compaction; killed after it, the dropped objects are no longer read and are deleted then.

A replacing object is named ``compacted-<run>-<id>.parquet`` in the dropped object's
folder: it keeps the run's rows (a later run of the same input still replaces them) and
a new name (a dropped key is never added again).

Examples
--------
>>> replacement_key("stream=events/date=2026-03-01/part-ab12-000003.parquet", "e1")
'stream=events/date=2026-03-01/compacted-ab12-e1.parquet'
>>> replacement_key("stream=events/date=2026-03-01/other.parquet", "e1")
'stream=events/date=2026-03-01/compacted-x-e1.parquet'
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator

from shopstream.lake.commit_log import LakeLog, fold_log, read_log
from shopstream.lake.commits import COMMITS, Commit, write_commit
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore
from shopstream.lake.runs import run_of_file

__all__ = ["commit_changes", "locked_lake", "put_new", "replacement_key"]


def replacement_key(key: str, new_id: str) -> str:
    """The key of the object replacing ``key`` (see the module's docstring)."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/compacted-{run_of_file(name) or 'x'}-{new_id}.parquet"


@contextlib.contextmanager
def locked_lake(store: ObjectStore, writer: str) -> Iterator[tuple[LeaseLock, LakeLog]]:
    """Hold the lock of the lake in ``store`` as ``writer`` (a name such as
    ``erase-<id>``); yield it and the commit log, after deleting the objects no commit
    lists."""
    store.check_bucket()
    lease = LeaseLock(store, writer)
    lease.acquire()
    try:
        log = read_log(store)
        live = log.live
        store.delete(sorted(k for k in store.keys("stream=") if k not in live))
        yield lease, log
    finally:
        lease.release()


def put_new(store: ObjectStore, lease: LeaseLock, key: str, body: bytes) -> None:
    """PUT a new object (``key`` -> Parquet ``body``) of a change still holding the lake's
    lock: listed by no commit until :func:`commit_changes` adds it (one object in memory
    at a time; a change killed before its commit leaves it to the next change)."""
    lease.check()
    store.put(key, body)


def commit_changes(store: ObjectStore, lease: LeaseLock, kind: str,
                   adds: Iterable[str], drops: list[str]) -> str:
    """Commit ``adds`` (keys of objects :func:`put_new` wrote) with ``drops`` as one
    ``kind`` commit, delete ``drops`` and fold the log; the commit's name (``""`` when
    there was nothing to change)."""
    adds = list(adds)
    if not adds and not drops:
        return ""
    name = f"{COMMITS}{kind}-{uuid.uuid4().hex[:12]}.json"
    lease.check()
    write_commit(store, Commit(name, adds=tuple(sorted(adds)), drops=tuple(sorted(drops))),
                 exclusive=True)
    store.delete(sorted(drops))
    fold_log(store, lease)
    return name
