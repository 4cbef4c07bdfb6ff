"""Compaction: the many small files of a partition (one per flush) become one.

Each partition is rewritten on its own, crash-safely: the merged file is written under a
temporary name and fsynced, a journal (``_compaction.json``) names it and the files it
replaces, the merged file is renamed into place, the old files are deleted, then the
journal. A compaction that died part-way is finished (or undone, when the merged file
was never renamed) by the next one. Rows keep their order: files are merged in name
order, which is flush order within a run. It first deletes the temporary files that runs
killed and never resumed left (:func:`shopstream.lake.runs.remove_orphans`).

A run being written (its lock held: :func:`shopstream.lake.runs.hold_run_lock`) is
skipped and named in the summary; the others' locks are held while their files merge, so
no run starts or resumes meanwhile. A run killed and waiting to be resumed may be merged:
before its files are replaced, the last of its flushes merged is recorded in
``_runs.json`` (:func:`~shopstream.lake.runs.record_merged`), and resuming it from a
checkpoint that does not cover that flush is refused with one line (the resume would
write those rows again: run again without ``--resume``).

Examples
--------
>>> from shopstream.events.records import DeadLetter, Output
>>> from shopstream.lake.sink import started_sink
>>> sink = started_sink()
>>> d = sink.directory
>>> for n in range(3):
...     sink.write(Output("dead-letter", "in", DeadLetter("decode", "bad", "x", "in", n)))
...     _ = sink.commit()
>>> len(list(d.rglob("*.parquet")))
3
>>> [why.split(": ")[1] for why in compact(d).skipped]  # the sink holds its run's lock
['being written']
>>> sink.close()
>>> compact(d)  # doctest: +NORMALIZE_WHITESPACE
CompactionSummary(partitions=1, files_before=3, files_after=1, rows=3, orphans=0,
                  skipped=())
>>> len(list(d.rglob("*.parquet")))
1
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.lake.errors import LakeError
from shopstream.lake.files import write_parquet
from shopstream.lake.runs import (
    record_merged,
    release_run_lock,
    remove_orphans,
    run_of_file,
    take_idle_run,
)

__all__ = ["CompactionSummary", "compact"]

_JOURNAL = "_compaction.json"


@dataclass(frozen=True)
class CompactionSummary:
    """What a compaction did: partitions rewritten, files before and after, rows moved,
    the temporary files of killed runs it deleted, and the runs it left alone, each as
    ``"<run>: <why>"``."""

    partitions: int
    files_before: int
    files_after: int
    rows: int
    orphans: int = 0
    skipped: tuple[str, ...] = ()


def compact(directory: str | Path, min_files: int = 2) -> CompactionSummary:
    """Merge every partition of the lake at ``directory`` that has ``min_files`` or more
    files into one file per run (see :mod:`shopstream.lake.runs`)."""
    root = Path(directory)
    if not root.is_dir():
        msg = f"lake directory {str(directory)!r} does not exist"
        raise LakeError(msg)
    orphans = len(remove_orphans(root, time.time()))
    # Files merge within their run only, so a later run of the same input can still
    # replace this run's rows (shopstream.lake.runs).
    by_run: dict[str, dict[Path, list[Path]]] = {}
    for folder in sorted(root.glob("stream=*/date=*")):
        _recover(folder)
        for f in sorted(folder.glob("*.parquet")):
            by_run.setdefault(run_of_file(f.name) or "", {}).setdefault(folder, []).append(f)
    partitions = before = after = rows = 0
    skipped: list[str] = []
    for run, folders in sorted(by_run.items()):
        merging = {folder: files for folder, files in folders.items()
                   if len(files) >= max(min_files, 2)}
        if not merging:
            continue
        lock = take_idle_run(root, run) if run else None
        if run and lock is None:
            skipped.append(f"{run}: being written")
            continue
        try:
            if run:  # listed before the lock: a resumed run may have deleted files since
                merging = _files_of(run, merging, min_files)
            for folder, files in merging.items():
                if run:
                    record_merged(root, run, max(map(_flush_of, files)))
                rows += _merge(folder, run, files)
                partitions += 1
                before += len(files)
                after += 1
        finally:
            if lock is not None:
                release_run_lock(lock)
    return CompactionSummary(partitions, before, after, rows, orphans, tuple(skipped))


def _flush_of(path: Path) -> int:
    """The flush a run's file holds (``part-<run>-<seq>``); 0 for a compacted file, whose
    flushes a compaction recorded already."""
    if not path.name.startswith("part-"):
        return 0
    return int(path.name.removesuffix(".parquet").rsplit("-", 1)[1])


def _files_of(run: str, folders: dict[Path, list[Path]],
              min_files: int) -> dict[Path, list[Path]]:
    """``run``'s files in ``folders`` as they are now, where ``min_files`` or more."""
    now = {folder: [f for f in sorted(folder.glob("*.parquet"))
                    if run_of_file(f.name) == run] for folder in folders}
    return {folder: files for folder, files in now.items()
            if len(files) >= max(min_files, 2)}


def _merge(folder: Path, run: str, files: list[Path]) -> int:
    """Merge ``files`` of ``folder`` into one; return its rows."""
    try:
        tables = [pq.read_table(f) for f in files]
    except OSError as exc:
        msg = f"cannot compact {str(folder)!r}: cannot read its files ({exc})"
        raise LakeError(msg) from None
    try:
        merged = pa.concat_tables(tables)
    except pa.ArrowInvalid as exc:
        msg = f"cannot compact {str(folder)!r}: its files' schemas differ ({exc})"
        raise LakeError(msg) from None
    target = folder / f"compacted-{run or 'x'}-{uuid.uuid4().hex[:12]}.parquet"
    tmp = target.with_name(target.name + ".tmp")
    write_parquet(merged, tmp)
    journal = folder / _JOURNAL
    journal.write_text(json.dumps({"output": target.name,
                                   "inputs": [f.name for f in files]}))
    os.replace(tmp, target)
    _finish(folder, json.loads(journal.read_text()))
    return int(merged.num_rows)


def _recover(folder: Path) -> None:
    """Finish or undo a compaction of ``folder`` that stopped part-way."""
    journal = folder / _JOURNAL
    if not journal.exists():
        for tmp in folder.glob("compacted-*.parquet.tmp"):
            tmp.unlink()
        return
    plan = json.loads(journal.read_text())
    if (folder / plan["output"]).exists():
        _finish(folder, plan)
    else:
        (folder / (plan["output"] + ".tmp")).unlink(missing_ok=True)
        journal.unlink()


def _finish(folder: Path, plan: dict[str, Any]) -> None:
    for name in plan["inputs"]:
        (folder / str(name)).unlink(missing_ok=True)
    (folder / _JOURNAL).unlink()
