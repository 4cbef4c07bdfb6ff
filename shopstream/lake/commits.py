"""The commit log of a lake in object storage: which objects readers may read.

Object storage has no rename, so a flush cannot appear at once the way a local lake's
files do. Instead the writer PUTs each finished Parquet object under its final key, then
one immutable commit object, ``_commits/<run>-<seq>.json``, listing the keys the flush
added. Readers (``shopstream sql``, the reports, compaction) read only the keys that a
commit lists: an object whose commit never landed (a writer killed between the two) is
never seen, and the flush's rows are written again from the checkpoint by the resume.

Other commits change what is live without adding a flush: a compaction
(``_commits/compact-<id>.json``) adds its merged objects and drops the objects they
merge; a fresh run of an input the lake already holds (``_commits/replace-<run>.json``)
drops every object of the runs it replaces, whose ids it keeps so that they cannot be
resumed; an erasure (``erase-<id>``) and a retention sweep (``retention-<id>``) replace or
drop objects as a compaction does. A resume deletes its run's commits after the
checkpoint's flush.

Bound: one small object per flush, compaction, replacement, erasure and sweep until the
next fold (:mod:`shopstream.lake.commit_log`), which folds them into one object and deletes
them: readers read the latest fold and the commits since.

Examples
--------
>>> flush = Commit("_commits/r1-000001.json", run="r1", seq=1,
...                adds=("stream=events/date=2026-03-01/part-r1-000001.parquet",))
>>> merged = Commit("_commits/compact-x.json", adds=("stream=events/date=2026-03-01/"
...                 "compacted-r1-x.parquet",), drops=flush.adds)
>>> live_keys([flush, merged])
['stream=events/date=2026-03-01/compacted-r1-x.parquet']
>>> live_keys([flush, Commit("_commits/replace-r2.json", run="r2", drop_runs=("r1",))])
[]
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass

from shopstream.lake.errors import LakeError
from shopstream.lake.object_store import ObjectStore
from shopstream.lake.runs import run_of_file

__all__ = ["COMMITS", "Commit", "flush_commit_name", "live_keys", "parse_commit",
           "write_commit"]

COMMITS = "_commits/"


def flush_commit_name(run: str, seq: int) -> str:
    """The commit of flush ``seq`` of ``run``.

    >>> flush_commit_name("ab12", 3)
    '_commits/ab12-000003.json'
    """
    return f"{COMMITS}{run}-{seq:06d}.json"


@dataclass(frozen=True)
class Commit:
    """One commit object: the keys it ``adds`` and ``drops``, the runs whose objects it
    drops, and for a flush its ``run``, ``seq`` and the run's input (``source``)."""

    name: str
    run: str = ""
    seq: int = 0
    source: str | None = None
    adds: tuple[str, ...] = ()
    drops: tuple[str, ...] = ()
    drop_runs: tuple[str, ...] = ()


def write_commit(store: ObjectStore, commit: Commit, exclusive: bool = False) -> None:
    """PUT ``commit`` (after the objects it adds are all in place). ``exclusive``: only
    if no commit of that name is there (``If-None-Match``), so that a paused old writer
    cannot overwrite a resumed run's commit; one found with the same body is this PUT's
    own (retried after its answer was lost). Each PUT's body carries a fresh ``nonce``, so
    that a commit written again under a folded commit's name (a resume's flush) has
    another ETag than the one the fold records."""
    body = {k: v for k, v in asdict(commit).items() if k != "name"}
    body["nonce"] = uuid.uuid4().hex
    data = json.dumps(body, sort_keys=True).encode()
    if not exclusive:
        store.put(commit.name, data)
        return
    if store.put_if(commit.name, data, None) is not None:
        return
    found = store.get(commit.name)
    if found is None or _without_nonce(found[0]) != _without_nonce(data):
        msg = (f"lake {store.location.url}: commit {commit.name!r} was written by another "
               "writer meanwhile; this writer's flush is not committed")
        raise LakeError(msg)


def _without_nonce(body: bytes) -> object:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    return {k: v for k, v in data.items() if k != "nonce"} if isinstance(data, dict) else data


def parse_commit(store: ObjectStore, name: str, body: bytes) -> Commit:
    """The commit object ``name`` of ``store`` with ``body`` (one line when it is none)."""
    try:
        data = json.loads(body)
        return Commit(name, str(data.get("run", "")), int(data.get("seq", 0)),
                      data.get("source"), tuple(data.get("adds", ())),
                      tuple(data.get("drops", ())), tuple(data.get("drop_runs", ())))
    except (ValueError, TypeError, AttributeError):
        msg = (f"lake {store.location.url}: commit {name!r} is not a commit object; "
               "remove it or restore it")
        raise LakeError(msg) from None


def live_keys(commits: list[Commit]) -> list[str]:
    """The keys readers read: added by a commit of a run not dropped, and not dropped
    since, in key order."""
    dead_runs = {run for c in commits for run in c.drop_runs}
    dropped = {key for c in commits for key in c.drops}
    return sorted({key for c in commits if c.run not in dead_runs for key in c.adds
                   if key not in dropped and run_of_file(key.rsplit("/", 1)[-1])
                   not in dead_runs})
