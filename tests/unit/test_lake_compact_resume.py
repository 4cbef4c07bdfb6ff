"""Compaction and resumes (issue #15): a run killed after a flush its checkpoint does not
cover, compacted while it waits, then resumed, must not leave that flush's rows twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shopstream.cli import main
from shopstream.events import streams
from shopstream.events.records import DeadLetter, Output
from shopstream.lake.runs import read_runs
from shopstream.lake.schemas import SCHEMAS
from shopstream.lake.sink import started_sink
from shopstream.runners.embedded.checkpoint import CheckpointStore


@pytest.fixture(scope="module")
def shop_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of a simulated shop (about 2,000 lines)."""
    path = tmp_path_factory.mktemp("compact-resume") / "in.jsonl"
    assert main(["simulate", "--sessions", "400", "--days", "2", "--end",
                 "2026-03-03T00:00:00Z", "--bad-rate", "0.02", "-o", str(path),
                 "--no-progress"]) == 0
    return path


def differing_rows(lake: Path, other: Path) -> dict[str, int]:
    """Per stream, the rows one lake holds more often than the other (DuckDB, EXCEPT ALL
    both ways: each row compared with all its columns, duplicates counted)."""
    out: dict[str, int] = {}
    con = duckdb.connect()
    for stream in SCHEMAS:
        a, b = (sorted(str(f) for f in d.glob(f"stream={stream}/date=*/*.parquet"))
                for d in (lake, other))
        if not a and not b:
            continue
        if not a or not b:
            out[stream] = len(a) + len(b)
            continue
        left, right = (f"SELECT * FROM read_parquet({files!r}, hive_partitioning=false)"
                       for files in (a, b))
        (n,) = con.execute(f"SELECT count(*) FROM (({left} EXCEPT ALL {right}) UNION ALL "
                           f"({right} EXCEPT ALL {left}))").fetchone() or (0,)
        if n:
            out[stream] = int(n)
    return out


def test_a_run_compacted_while_killed_after_an_uncovered_flush_leaves_each_row_once(
        shop_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["run", "--input", str(shop_input), "--no-progress"]
    assert main([*base, "--output-dir", str(tmp_path / "o0"), "--lake",
                 str(tmp_path / "whole")]) == 0
    lake = tmp_path / "lake"
    args = [*base, "--output-dir", str(tmp_path / "o"), "--lake", str(lake),
            "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-every", "400"]
    saves = {"n": 0}
    real_save = CheckpointStore.save

    def dying_save(self: CheckpointStore, snapshot: dict[str, Any]) -> None:
        saves["n"] += 1
        if saves["n"] == 3:  # the lake flushed for this checkpoint; it never lands
            raise KeyboardInterrupt
        real_save(self, snapshot)

    monkeypatch.setattr(CheckpointStore, "save", dying_save)
    assert main(args) != 0  # "interrupted"
    monkeypatch.setattr(CheckpointStore, "save", real_save)
    assert main(["lake", "compact", str(lake)]) == 0  # merges flush 3 too
    (run,) = read_runs(lake)["runs"]
    capsys.readouterr()
    # The old code resumed from flush 2, deleted no file (flush 3 was merged) and wrote
    # flush 3's rows again: the lake held them twice. The resume is refused in one line.
    # (A process of its own: a runner refused by the lake leaves its JSONL sinks open.)
    resumed = subprocess.run([sys.executable, "-m", "shopstream.cli", *args, "--resume"],
                             capture_output=True, text=True, check=False)
    if resumed.returncode != 0:
        err = resumed.stderr.strip()
        assert err.count("\n") == 0 and "Traceback" not in err, err
        assert f"run {run}" in err and "run again without --resume" in err, err
        assert main(args) == 0  # a fresh run of the same input replaces the killed one
    assert differing_rows(lake, tmp_path / "whole") == {}
    assert read_runs(lake)["replaced"] == [run]


def test_compaction_skips_a_run_being_written_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sink = started_sink(tmp_path / "lake")
    for n in range(3):
        sink.write(Output(streams.DEAD_LETTER, "in", DeadLetter("decode", "b", "x", "in", n)))
        sink.commit()
    assert main(["lake", "compact", str(tmp_path / "lake")]) == 0
    assert f"skipped run {sink.run}: being written" in capsys.readouterr().out
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 3
    assert "merged_through" not in read_runs(tmp_path / "lake")["runs"][sink.run]
    sink.close()
    assert main(["lake", "compact", str(tmp_path / "lake")]) == 0
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 1
    assert read_runs(tmp_path / "lake")["runs"][sink.run]["merged_through"] == 3


@pytest.mark.parametrize(("covered", "refused"), [(1, True), (2, False), (3, False)])
def test_a_resume_is_refused_only_when_compaction_merged_flushes_past_its_checkpoint(
        tmp_path: Path, covered: int, refused: bool) -> None:
    """The sink tells the check which flush its checkpoint covers: a resume from a
    checkpoint at or past the merged flushes goes on (before, any merge refused it)."""
    from shopstream.lake.errors import LakeError
    from shopstream.lake.runs import record_merged
    from shopstream.lake.sink import LakeSink

    record_merged(tmp_path, "r1", 2)
    sink = LakeSink(tmp_path)
    state = {"run": "r1", "seq": covered, "max_ms": 0}
    if refused:
        with pytest.raises(LakeError, match="merged its flushes up to 2, after flush 1"):
            sink.start(state, resume=True, checkpoint_dir=None)
    else:
        sink.start(state, resume=True, checkpoint_dir=None)
        sink.close()


def test_a_compaction_cannot_slip_between_the_resume_check_and_the_run_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `lake compact` right before the resume takes its run lock: the old code had
    checked already and resumed over merged flushes (their rows twice); now the lock
    comes first, the check sees the merge and the lock is given back."""
    from shopstream.lake import sink as sink_module
    from shopstream.lake.compact import compact
    from shopstream.lake.errors import LakeError
    from shopstream.lake.runs import _is_live
    from shopstream.lake.sink import LakeSink

    first = started_sink(tmp_path)
    for n in range(3):
        first.write(Output(streams.DEAD_LETTER, "in", DeadLetter("decode", "b", "x", "in", n)))
        first.commit()
    first.close()
    real_hold = sink_module.hold_run_lock

    def compacting_hold(directory: Path, run: str) -> Path:
        compact(directory)  # merges flushes 1-3 of the idle run, then releases its lock
        return real_hold(directory, run)

    monkeypatch.setattr(sink_module, "hold_run_lock", compacting_hold)
    resumed = LakeSink(tmp_path)
    with pytest.raises(LakeError, match="merged its flushes up to 3, after flush 1"):
        resumed.start({"run": first.run, "seq": 1, "max_ms": 0}, resume=True,
                      checkpoint_dir=None)
    assert not _is_live(tmp_path, first.run)


def test_compaction_lists_a_run_again_once_it_holds_its_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resume that deletes an uncovered flush after the compaction listed the files but
    before it took the run's lock: the old code read the deleted file (a traceback,
    FileNotFoundError) and recorded the stale flush 3 as merged."""
    from shopstream.lake import compact as compact_module
    from shopstream.lake.errors import LakeError

    sink = started_sink(tmp_path)
    for n in range(3):
        sink.write(Output(streams.DEAD_LETTER, "in", DeadLetter("decode", "b", "x", "in", n)))
        sink.commit()
    sink.close()
    real_take = compact_module.take_idle_run

    def take_after_a_resume(directory: Path, run: str) -> Path | None:
        for f in directory.rglob(f"part-{run}-000003.parquet"):
            f.unlink()
        return real_take(directory, run)

    monkeypatch.setattr(compact_module, "take_idle_run", take_after_a_resume)
    summary = compact_module.compact(tmp_path)
    assert (summary.files_before, summary.files_after) == (2, 1)
    assert read_runs(tmp_path)["runs"][sink.run]["merged_through"] == 2
    with pytest.raises(LakeError, match="cannot read its files"):
        compact_module._merge(tmp_path, "r", [tmp_path / "gone.parquet"])


def test_a_run_lock_on_a_deleted_lock_file_is_not_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened before its holder released it (deleted the file), flocked after another
    writer made the file again and took it: the old code held a lock on the deleted file
    (two holders); now it opens the file again and finds it held."""
    import fcntl
    import os

    from shopstream.lake.errors import LakeError
    from shopstream.lake.runs import hold_run_lock

    real_flock = fcntl.flock
    path = tmp_path / ".run-r1.lock"
    other: list[int] = []

    def flock_after_a_release(fd: int, op: int) -> None:
        if not other:  # the holder releases; another writer takes the new file
            path.unlink()
            other.append(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
            real_flock(other[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_release)
    try:
        with pytest.raises(LakeError, match="is being written by another process"):
            hold_run_lock(tmp_path, "r1")
    finally:
        os.close(other[0])
