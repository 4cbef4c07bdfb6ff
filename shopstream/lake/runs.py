"""Which runs wrote the lake, and from what input: a re-run replaces, it never duplicates.

``DIR/_runs.json`` names each run that wrote the lake and its input (a file's absolute
path; ``None`` for standard input, Kafka and PostgreSQL, whose re-runs read new data and
append). A fresh run (not a resume) of an input that an earlier run already wrote
*replaces* that run: the earlier run's files (``part-<run>-*`` and ``compacted-<run>-*``)
are deleted before the new run writes, so running the same file twice into one lake
leaves each row once. The order is crash-safe: the manifest first records the runs being
replaced, then their files go, then the record; a start that finds a record left by a
killed start finishes the deletion. A replaced run cannot be resumed any more.

**Compactions.** ``lake compact`` records in a run's entry the last of its flushes it
merged (``merged_through``, :func:`record_merged`) before the merged file replaces them;
:func:`check_resumable` refuses a resume whose checkpoint does not cover it, since the
resume would write those flushes' rows again. Writers of the manifest hold
``DIR/.runs.lock`` while they read, change and write it.

Bound: one entry per run that wrote the lake and is still in it (files of replaced runs
are gone, their ids kept in ``replaced`` so a stale resume is refused).

**Orphans.** A run killed between two commits leaves the flush it was writing as
temporary files (``part-<run>-<seq>.parquet.tmp``), which the views never read. Its
resume deletes them; a run that is never resumed would leave them for ever, so
:func:`remove_orphans` deletes other runs' temporary files last modified before a given
time: every writer (:class:`~shopstream.lake.sink.LakeSink`) calls it when it starts, with
its own start time, and ``lake compact`` with its own. A writer holds its run's lock
(:func:`hold_run_lock`, an exclusive ``flock`` on ``DIR/.run-<run>.lock`` that the system
releases when the process ends, however it ends), and the files of a run whose lock is
held are never deleted, so another writer or a compaction cannot break a running one.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> claim(d, "run1", "/data/day1.jsonl")
[]
>>> claim(d, "run2", "/data/day2.jsonl")
[]
>>> claim(d, "run3", "/data/day1.jsonl")
['run1']
>>> sorted(read_runs(d)["runs"])
['run2', 'run3']
>>> try:
...     check_resumable(d, "run1")
... except LakeError as exc:
...     print(str(exc).split("; ")[1])
run again without --resume
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shopstream.lake.errors import LakeError
from shopstream.lake.files import replace_json

__all__ = ["RUNS_FILE", "check_resumable", "claim", "hold_run_lock", "read_runs",
           "record_merged", "release_run_lock", "remove_orphans", "run_of_file",
           "take_idle_run"]

RUNS_FILE = "_runs.json"
#: The run locks this process holds: lock file -> its descriptor (a run resumed in the
#: same process takes its lock over).
_HELD: dict[Path, int] = {}
_FILE = re.compile(r"^(?:part|compacted)-(?P<run>[0-9a-z]+)-[0-9a-z]+\.parquet(?:\.tmp)?$")


def run_of_file(name: str) -> str | None:
    """The run that wrote a lake file, from its name (``None``: not a run's file).

    >>> run_of_file("part-ab12-000003.parquet"), run_of_file("compacted-ab12-9f3e.parquet")
    ('ab12', 'ab12')
    """
    match = _FILE.match(name)
    return match["run"] if match else None


def read_runs(directory: Path) -> dict[str, Any]:
    """The manifest of the lake at ``directory`` (empty when no run recorded itself)."""
    path = directory / RUNS_FILE
    if not path.exists():
        return {"runs": {}, "replacing": [], "replaced": []}
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except ValueError:
        msg = f"lake manifest {str(path)!r} is not JSON: remove it or restore it"
        raise LakeError(msg) from None
    return manifest


def _write(directory: Path, manifest: dict[str, Any]) -> None:
    replace_json(directory / RUNS_FILE, manifest)


def _delete_runs(directory: Path, runs: set[str]) -> None:
    for path in directory.glob("stream=*/date=*/*"):
        if run_of_file(path.name) in runs:
            path.unlink()


@contextlib.contextmanager
def _manifest_lock(directory: Path) -> Iterator[None]:
    """Hold ``DIR/.runs.lock`` (an exclusive ``flock``): writers of ``_runs.json`` (run
    starts, compactions) read, change and write it one at a time."""
    fd = os.open(directory / ".runs.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _finish_pending(directory: Path) -> dict[str, Any]:
    """Finish a replacement a killed start left half done; return the manifest."""
    manifest = read_runs(directory)
    pending = set(manifest.get("replacing", []))
    if pending:
        _delete_runs(directory, pending)
        manifest["replaced"] = sorted(set(manifest.get("replaced", [])) | pending)
        manifest["replacing"] = []
        _write(directory, manifest)
    return manifest


def claim(directory: Path, run: str, source: str | None) -> list[str]:
    """Record that ``run`` writes the lake from ``source``; delete the files of earlier
    runs of the same source and return their ids."""
    with _manifest_lock(directory):
        manifest = _finish_pending(directory)
        runs: dict[str, Any] = manifest["runs"]
        older = sorted(r for r, info in runs.items()
                       if source is not None and r != run and info.get("source") == source)
        # A resume keeps what compactions recorded of the run (its merged flushes).
        runs[run] = {**runs.get(run, {}), "source": source}
        for r in older:
            del runs[r]
        manifest["replacing"] = older
        _write(directory, manifest)
        _finish_pending(directory)
    return older


def record_merged(directory: Path, run: str, seq: int) -> None:
    """Record that a compaction merged ``run``'s flushes up to ``seq`` into one file
    (``merged_through`` of its entry in ``_runs.json``), *before* the merged file
    replaces them: a resume of the run from a checkpoint before ``seq`` is then refused
    (:func:`check_resumable`).

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> record_merged(d, "r1", 4); record_merged(d, "r1", 2)
    >>> read_runs(d)["runs"]["r1"]
    {'merged_through': 4}
    >>> check_resumable(d, "r1", seq=4)
    >>> try:
    ...     check_resumable(d, "r1", seq=3)
    ... except LakeError as exc:
    ...     print(str(exc).split("; ")[1])
    run again without --resume
    """
    with _manifest_lock(directory):
        manifest = read_runs(directory)
        entry = manifest["runs"].setdefault(run, {})
        entry["merged_through"] = max(seq, int(entry.get("merged_through", 0)))
        _write(directory, manifest)


def check_resumable(directory: Path, run: str, seq: int | None = None) -> None:
    """Refuse to resume a run whose files a later run of the same input replaced, or
    whose flushes after ``seq`` (the last one its checkpoint covers; ``None``: unknown,
    so any) a compaction merged: the resume would write their rows again."""
    manifest = read_runs(directory)
    if run in manifest.get("replaced", []):
        msg = (f"run {run} of the lake {str(directory)!r} was replaced by a later run of "
               "the same input; run again without --resume")
        raise LakeError(msg)
    merged = manifest["runs"].get(run, {}).get("merged_through")
    if merged is not None and (seq is None or merged > seq):
        after = "its checkpoint" if seq is None else f"flush {seq}, its checkpoint's last"
        msg = (f"run {run} of the lake {str(directory)!r} cannot be resumed: `lake "
               f"compact` merged its flushes up to {merged}, after {after}; run again "
               "without --resume")
        raise LakeError(msg)


def remove_orphans(directory: Path, before_s: float, keep_run: str = "") -> list[Path]:
    """Delete the temporary flush files (``part-*.parquet.tmp``) under ``directory``
    last modified before ``before_s`` (epoch seconds), except run ``keep_run``'s; return
    them.

    >>> import os, pathlib, tempfile, time
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> part = d / "stream=events" / "date=2026-01-01"
    >>> part.mkdir(parents=True)
    >>> for name in ("part-dead-000003.parquet.tmp", "part-mine-000001.parquet.tmp",
    ...              "part-dead-000002.parquet"):
    ...     _ = (part / name).write_bytes(b"")
    ...     os.utime(part / name, (1_000, 1_000))
    >>> _ = (part / "part-live-000001.parquet.tmp").write_bytes(b"")
    >>> [p.name for p in remove_orphans(d, before_s=time.time() - 60, keep_run="mine")]
    ['part-dead-000003.parquet.tmp']
    >>> sorted(p.name for p in part.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['part-dead-000002.parquet', 'part-live-000001.parquet.tmp',
     'part-mine-000001.parquet.tmp']
    """
    removed: list[Path] = []
    live: dict[str, bool] = {}
    for path in sorted(directory.glob("stream=*/date=*/part-*.parquet.tmp")):
        run = run_of_file(path.name)
        if run is None or run == keep_run:
            continue
        if run not in live:
            live[run] = _is_live(directory, run)
        if live[run]:
            continue
        try:
            if path.stat().st_mtime < before_s:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # gone meanwhile (its run resumed, or published it)
            continue
    return removed


def hold_run_lock(directory: Path, run: str) -> Path:
    """Take ``run``'s lock (``DIR/.run-<run>.lock``) for this process, or keep it when this
    process holds it already; return the lock file. A :class:`LakeError` when another
    process holds it (that run is being written). :func:`release_run_lock` gives it back;
    the system releases it when the process ends.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> lock = hold_run_lock(d, "r1")
    >>> _is_live(d, "r1"), _is_live(d, "r2")
    (True, False)
    >>> release_run_lock(lock)
    >>> _is_live(d, "r1"), lock.exists()
    (False, False)
    """
    path = _lock_file(directory, run)
    if path in _HELD:
        return path
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            msg = (f"lake run {run} in {str(directory)!r} is being written by another "
                   "process; wait for it to end")
            raise LakeError(msg) from None
        if _is_file_at(fd, path):
            _HELD[path] = fd
            return path
        # Its holder released it (deleted the file) after this open: a lock on a deleted
        # file holds nothing, another writer may have made the file again. Open it anew.
        os.close(fd)
    msg = f"cannot take lake run {run}'s lock in {str(directory)!r}: its file keeps changing"
    raise LakeError(msg)


def _is_file_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is the file now at ``path``."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def take_idle_run(directory: Path, run: str) -> Path | None:
    """Take ``run``'s lock when no process (this one included) holds it, so that no
    writer starts or resumes the run meanwhile; ``None`` when the run is being written.
    :func:`release_run_lock` gives it back.

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> mine = hold_run_lock(d, "r1")
    >>> take_idle_run(d, "r1") is None
    True
    >>> lock = take_idle_run(d, "r2")
    >>> _is_live(d, "r2")
    True
    >>> release_run_lock(lock); release_run_lock(mine)
    """
    if _lock_file(directory, run) in _HELD:
        return None
    try:
        return hold_run_lock(directory, run)
    except LakeError:
        return None


def release_run_lock(path: Path) -> None:
    """Give back a lock :func:`hold_run_lock` took (and remove its file)."""
    fd = _HELD.pop(path, None)
    if fd is not None:
        path.unlink(missing_ok=True)
        os.close(fd)


def _is_live(directory: Path, run: str) -> bool:
    """Whether a process (this one included) holds ``run``'s lock."""
    path = _lock_file(directory, run)
    if path in _HELD:
        return True
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _lock_file(directory: Path, run: str) -> Path:
    return directory / f".run-{run}.lock"
