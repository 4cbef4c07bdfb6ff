"""The lake's flush writer (shopstream.lake.writer) behind the sink: a flush is written in
row groups, visible only at its commit, and a failure reaches the caller."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopstream.events.model import EventType, ShopperEvent
from shopstream.lake import runs
from shopstream.lake.compact import compact
from shopstream.lake.errors import LakeError
from shopstream.lake.schemas import EVENTS
from shopstream.lake.sink import LakeSink
from shopstream.lake.writer import FlushWriter

DAY_MS = 86_400_000


def _events(n: int) -> list[ShopperEvent]:
    return [ShopperEvent(EventType.PAGE_VIEW, i * DAY_MS // 4, f"s{i}", user_id=f"u{i}")
            for i in range(n)]


def _files(lake: Path, pattern: str) -> list[Path]:
    return sorted(lake.glob(f"stream=*/date=*/{pattern}"))


def test_a_flush_is_written_in_row_groups_and_visible_only_at_its_commit(
        tmp_path: Path) -> None:
    sink = LakeSink(tmp_path / "lake", streams=[EVENTS], batch_rows=3)
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
    assert sink._writer is not None
    sink._writer.row_group_rows = 2
    for event in _events(10):
        sink.write_event(event)
    assert _files(tmp_path / "lake", "*.parquet") == []
    assert sink.commit()["seq"] == 1
    files = _files(tmp_path / "lake", "*.parquet")
    assert [f.parent.name for f in files] == ["date=1970-01-01", "date=1970-01-02",
                                              "date=1970-01-03"]
    assert _files(tmp_path / "lake", "*.tmp") == []
    rows = [r for f in files for r in pq.read_table(f).column("session_id").to_pylist()]
    assert sorted(rows) == sorted(f"s{i}" for i in range(10))
    # Batches of 3 wait for the flush's file of their day until 2 rows or more wait: the
    # first day's 4 rows came in batches of 3 (3 of that day) and 3 (1 of that day).
    assert pq.ParquetFile(files[0]).metadata.num_row_groups == 2
    assert sink.rows[EVENTS] == 10 and sink.files == 3
    sink.close()


def test_a_run_killed_between_commits_leaves_only_temporary_files_which_a_resume_deletes(
        tmp_path: Path) -> None:
    lake, ck = tmp_path / "lake", tmp_path / "ck"
    sink = LakeSink(lake, streams=[EVENTS], batch_rows=3)
    sink.start(None, resume=False, checkpoint_dir=ck)
    state = sink.commit()
    assert sink._writer is not None
    sink._writer.row_group_rows = 1
    for event in _events(10):
        sink.write_event(event)
    sink._writer.abandon()  # the writer has written what it was given; no commit: a kill
    assert _files(lake, "*.parquet.tmp") and _files(lake, "*.parquet") == []
    resumed = LakeSink(lake, streams=[EVENTS])
    resumed.start(state, resume=True, checkpoint_dir=ck)
    assert list(lake.glob("stream=*/date=*/*")) == []
    resumed.close()


def test_a_write_that_fails_is_raised_naming_the_stream_and_the_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    sink = LakeSink(lake, streams=[EVENTS], batch_rows=2)
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
    assert sink._writer is not None
    sink._writer.row_group_rows = 2
    (lake / f"stream={EVENTS}").write_text("a file where the partitions should go")
    with pytest.raises(LakeError, match=r"lake writer: cannot write stream 'events' under"):
        for event in _events(4):
            sink.write_event(event)


def _killed_run(lake: Path, ck: Path) -> list[Path]:
    """A run that wrote part of a flush and was killed (never committed, never resumed):
    its temporary files, last modified an hour ago."""
    published = _files(lake, "*.parquet")
    sink = LakeSink(lake, streams=[EVENTS], batch_rows=3)
    sink.start(None, resume=False, checkpoint_dir=ck)
    assert sink._writer is not None
    sink._writer.row_group_rows = 1  # each batch goes to its file at once
    for event in _events(10):
        sink.write_event(event)
    orphans = _files(lake, "*.parquet.tmp")
    assert orphans and _files(lake, "*.parquet") == published
    for path in orphans:
        os.utime(path, (time.time() - 3_600, time.time() - 3_600))
    assert sink._lock is not None
    os.close(runs._HELD.pop(sink._lock))  # what the kill does: the lock goes, its file stays
    return orphans


def test_temporary_files_of_a_run_never_resumed_are_deleted_by_the_next_writer_and_compact(
        tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    orphans = _killed_run(lake, tmp_path / "ck1")
    # A file touched after the next writer started stands for one another writer is
    # still writing: kept.
    live = orphans[0].with_name("part-1ive0000run-000001.parquet.tmp")
    live.write_bytes(b"")
    os.utime(live, (time.time() + 3_600, time.time() + 3_600))
    sink = LakeSink(lake, streams=[EVENTS])
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck2")
    assert _files(lake, "*.parquet.tmp") == [live]
    sink.write_event(_events(1)[0])
    sink.close()
    assert len(_files(lake, "*.parquet")) == 1

    live.unlink()
    orphans = _killed_run(lake, tmp_path / "ck3")
    assert compact(lake).orphans == len(orphans)
    assert _files(lake, "*.parquet.tmp") == []
    assert sum(pq.read_table(f).num_rows for f in _files(lake, "*.parquet")) == 1


def test_a_live_writers_idle_temporary_files_survive_another_writer_and_compact(
        tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    running = LakeSink(lake, streams=[EVENTS], batch_rows=3)
    running.start(None, resume=False, checkpoint_dir=tmp_path / "ck1")
    assert running._writer is not None
    running._writer.row_group_rows = 1
    for event in _events(10):
        running.write_event(event)
    pending = _files(lake, "*.parquet.tmp")
    assert pending
    for path in pending:  # idle since long before the others start
        os.utime(path, (time.time() - 3_600, time.time() - 3_600))
    other = LakeSink(lake, streams=[EVENTS])
    other.start(None, resume=False, checkpoint_dir=tmp_path / "ck2")
    other.write_event(_events(1)[0])
    other.close()
    assert compact(lake).orphans == 0
    assert _files(lake, "*.parquet.tmp") == pending
    running.close()  # its commit finds its files
    assert _files(lake, "*.parquet.tmp") == []
    assert sum(pq.read_table(f).num_rows for f in _files(lake, "*.parquet")) == 11
    assert not list(lake.glob(".run-*.lock"))


def test_a_run_being_written_by_another_process_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    lake = tmp_path / "lake"
    lake.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; "
         "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(60)", str(lake / ".run-r1.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LakeError, match=r"run r1 .* is being written by another process"):
            runs.hold_run_lock(lake, "r1")
        assert runs._is_live(lake, "r1")
    finally:
        holder.kill()
        holder.communicate()
    assert not runs._is_live(lake, "r1")  # the kill released it


def test_a_batch_goes_to_the_partition_of_each_rows_utc_day_in_its_order(
        tmp_path: Path) -> None:
    # Times in order (a slice per day), times going back a day (a filter per day) and
    # times before 1970 (the day is the floor, as Arrow's date cast gives it).
    writer = FlushWriter(tmp_path)
    at = [5, DAY_MS + 1, 7, -1, 2 * DAY_MS, 2 * DAY_MS + 3]
    table = pa.table({"n": list(range(len(at))), "at": at})
    writer.put("s", table.slice(0, 4), "part-a.parquet", pa.array(at[:4]))
    writer.put("s", table.slice(4), "part-a.parquet", pa.array(at[4:]))
    writer.finish()
    days = {p.parent.name: pq.read_table(p).column("n").to_pylist()
            for p in tmp_path.rglob("*.parquet")}
    assert days == {"date=1970-01-01": [0, 2], "date=1970-01-02": [1],
                    "date=1969-12-31": [3], "date=1970-01-03": [4, 5]}


def test_numbers_get_statistics_and_strings_none(tmp_path: Path) -> None:
    sink = LakeSink(tmp_path / "lake", streams=[EVENTS])
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
    for event in _events(3):
        sink.write_event(event)
    sink.close()
    (path,) = _files(tmp_path / "lake", "*.parquet")
    group = pq.ParquetFile(path).metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).is_stats_set
             for i in range(group.num_columns)}
    assert stats["timestamp_ms"] and stats["items.list.element.price"]
    assert not stats["user_id"] and not stats["event_type"]
    timestamps = group.column(list(stats).index("timestamp_ms")).statistics
    assert (timestamps.min, timestamps.max) == (0, DAY_MS // 2)
