"""The commit log of a lake in object storage, folded: reads bounded by the fold interval.

Every flush, compaction, replacement, erasure and retention sweep adds one commit object
(:mod:`shopstream.lake.commits`); a reader that read them all would read more with every
flush. A **fold** ``_commits/_fold-<generation>.json`` holds what those commits add up
to: the live keys, the runs dropped, each run's input and the highest flush of each run a
commit dropped (what a resume checks), and the name and ETag of each commit object it
folded. A reader lists ``_commits/``, reads the latest fold and only the commits it did
not fold: one LIST, one GET of the fold and fewer GETs than the fold interval.

Folding (:func:`fold_log`) is a writer's step, under the lake's lock
(:mod:`shopstream.lake.lease`): the writer reads the log, PUTs the next fold only if no
fold of that generation is there (``If-None-Match``), then deletes the commits it folded
and the older folds. A fold interrupted anywhere leaves a readable lake: before its PUT
the old fold and the commits stand; after it, the commits it folded are skipped by their
ETag until they are deleted. A commit written again under a folded commit's name (a
resume's flush) has another ETag (its body's nonce), so it is read. A reader that finds a
listed object gone (a fold deleted it meanwhile) lists again.

A run writer folds every ``fold_every`` commits (:data:`FOLD_EVERY`), a compaction, an
erasure and a retention sweep each time they commit.

Bound: a read is one LIST of at most the fold interval's commits plus leftovers of an
interrupted fold, one fold (the live keys, dropped runs and one entry per run) and at most
the fold interval's commit GETs (``bench/s3_commit_log.py``).

Examples
--------
>>> from shopstream.lake.commits import Commit
>>> log = apply_commits(LakeLog(), [
...     Commit("_commits/r1-000001.json", "r1", 1, "in.jsonl",
...            adds=("stream=e/part-r1-000001.parquet",)),
...     Commit("_commits/compact-x.json", adds=("stream=e/compacted-r1-x.parquet",),
...            drops=("stream=e/part-r1-000001.parquet",))])
>>> sorted(log.live), dict(log.sources), dict(log.merged)
(['stream=e/compacted-r1-x.parquet'], {'r1': 'in.jsonl'}, {'r1': 1})
>>> sorted(apply_commits(log, [Commit("_commits/replace-r2.json", "r2", drop_runs=("r1",))]).live)
[]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain
from types import MappingProxyType
from typing import Any

from shopstream.lake.commits import COMMITS, Commit, parse_commit
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore
from shopstream.lake.runs import run_of_file

__all__ = ["FOLD_EVERY", "LakeLog", "apply_commits", "flush_of", "fold_log", "part_of",
           "read_log"]

#: Commits a run writer adds before it folds the log.
FOLD_EVERY = 64
_FOLD = re.compile(rf"^{COMMITS}_fold-(?P<gen>\d{{12}})\.json$")
_FLUSH = re.compile(rf"^{COMMITS}(?P<run>[0-9a-z]+)-(?P<seq>\d{{6,}})\.json$")
_PART = re.compile(r"^part-(?P<run>[0-9a-z]+)-(?P<seq>\d+)\.parquet$")
_READS = 5
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def part_of(key: str) -> tuple[str, int] | None:
    """The run and flush of a flush's object key, ``None`` for another object.

    >>> part_of("stream=e/date=2026-03-01/part-ab12-000003.parquet")
    ('ab12', 3)
    >>> part_of("x/compacted-a-b.parquet") is None
    True
    """
    match = _PART.match(key.rsplit("/", 1)[-1])
    return None if match is None else (match["run"], int(match["seq"]))


def flush_of(name: str) -> tuple[str, int] | None:
    """The run and flush of a flush commit's name, ``None`` for another name.

    >>> flush_of("_commits/ab12-000003.json"), flush_of("_commits/compact-x.json")
    (('ab12', 3), None)
    """
    match = _FLUSH.match(name)
    return None if match is None else (match["run"], int(match["seq"]))


def _fold_name(generation: int) -> str:
    return f"{COMMITS}_fold-{generation:012d}.json"


@dataclass(frozen=True)
class LakeLog:
    """The log as read: the latest fold with the commits it did not fold applied.

    ``live``: the keys readers read; ``dead_runs``: runs a later run of their input
    replaced; ``sources``: each live run's input; ``merged``: each run's highest flush
    whose object a commit dropped; ``commits``: the commits not folded; ``listed``: every
    commit object listed (name -> ETag, folded or not); ``folded``: the commit objects the
    fold folded (name -> ETag); ``generation``: the fold's (0: none); ``folds``: the fold
    objects listed."""

    live: frozenset[str] = frozenset()
    dead_runs: frozenset[str] = frozenset()
    sources: Mapping[str, str | None] = field(default_factory=lambda: _EMPTY)
    merged: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    commits: tuple[Commit, ...] = ()
    listed: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    folded: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    generation: int = 0
    folds: tuple[str, ...] = ()

    def live_keys(self) -> list[str]:
        """:attr:`live` in key order."""
        return sorted(self.live)


def apply_commits(log: LakeLog, commits: Iterable[Commit]) -> LakeLog:
    """``log`` with ``commits`` applied (added to its :attr:`~LakeLog.commits`): as
    :func:`~shopstream.lake.commits.live_keys` of the folded commits and these."""
    commits = tuple(commits)
    dead = log.dead_runs | {run for c in commits for run in c.drop_runs}
    dropped = {key for c in commits for key in c.drops}
    added = (key for c in commits if c.run not in dead for key in c.adds)
    live = frozenset(key for key in chain(log.live, added) if key not in dropped
                     and run_of_file(key.rsplit("/", 1)[-1]) not in dead)
    sources = {run: source for run, source in log.sources.items() if run not in dead}
    for c in commits:
        if c.run and c.seq > 0 and c.run not in dead:
            sources.setdefault(c.run, c.source)
    merged = dict(log.merged)
    for key in dropped:
        part = part_of(key)
        if part is not None:
            merged[part[0]] = max(merged.get(part[0], 0), part[1])
    return replace(log, live=live, dead_runs=frozenset(dead), sources=sources,
                   merged=merged, commits=log.commits + commits)


def _parse_fold(store: ObjectStore, name: str, body: bytes) -> LakeLog:
    try:
        data = json.loads(body)
        return LakeLog(
            live=frozenset(map(str, data["live"])),
            dead_runs=frozenset(map(str, data["dead_runs"])),
            sources={str(k): v for k, v in data["sources"].items()},
            merged={str(k): int(v) for k, v in data["merged"].items()},
            folded={str(k): str(v) for k, v in data["folded"].items()},
            generation=int(data["generation"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        msg = (f"lake {store.location.url}: fold {name!r} is not a fold of the commit log; "
               "restore it, or remove it and every commit it folded is lost")
        raise LakeError(msg) from None


def read_log(store: ObjectStore) -> LakeLog:
    """The commit log of the lake in ``store``: its latest fold and the commits since."""
    for _ in range(_READS):
        listed = store.listing(COMMITS)
        folds = tuple(sorted(name for name in listed if _FOLD.match(name)))
        log = LakeLog()
        if folds:
            found = store.get(folds[-1])
            if found is None:
                continue  # a newer fold deleted it meanwhile: list again
            log = _parse_fold(store, folds[-1], found[0])
        names = [name for name, etag in listed.items() if name.endswith(".json")
                 and name not in folds and log.folded.get(name) != etag]
        bodies = store.get_many(names)
        if any(body is None for body in bodies):
            continue  # deleted meanwhile (a fold's, a resume's): list again
        commits = [parse_commit(store, name, body)
                   for name, body in zip(names, bodies, strict=True) if body is not None]
        commits_listed = {k: v for k, v in listed.items()
                          if k.endswith(".json") and k not in folds}
        return replace(apply_commits(log, commits), listed=commits_listed, folds=folds)
    msg = (f"lake {store.location.url}: its commit log changed during each of {_READS} "
           "reads (a writer is folding it); try again")
    raise LakeError(msg)


def fold_log(store: ObjectStore, lease: LeaseLock,
             forget: tuple[str, int] | None = None) -> LakeLog:
    """Fold the log of the lake in ``store`` (``lease``: the lake's lock, held): PUT the
    next fold, then delete the commits it folded and the older folds; the log as folded.

    ``forget=(run, seq)``: a resume's, from flush ``seq`` of ``run``: the fold leaves out
    that run's later flushes (their commits are deleted, and the resume writes them
    again)."""
    log = read_log(store)
    live = log.live
    listed = dict(log.listed)
    stale: list[str] = []
    if forget is not None:
        run, seq = forget
        live = frozenset(k for k in live if (p := part_of(k)) is None
                         or p[0] != run or p[1] <= seq)
        stale = [n for n in listed if (f := flush_of(n)) is not None
                 and f[0] == run and f[1] > seq]
        for name in stale:
            del listed[name]
    generation = log.generation + 1
    body = {"generation": generation, "live": sorted(live),
            "dead_runs": sorted(log.dead_runs), "sources": dict(sorted(log.sources.items())),
            "merged": dict(sorted(log.merged.items())), "folded": listed}
    lease.check()
    name = _fold_name(generation)
    if store.put_if(name, json.dumps(body, sort_keys=True).encode(), None) is None:
        msg = (f"lake {store.location.url}: fold {name!r} was written by another writer "
               "meanwhile; this writer's fold is not written")
        raise LakeError(msg)
    store.delete([*sorted(listed), *stale, *log.folds])
    return replace(log, live=live, commits=(), listed={}, folded=listed,
                   generation=generation, folds=(name,))
