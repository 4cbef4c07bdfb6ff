"""The lake's flush writer (shopstream.lake.writer) behind the sink, on the caller's thread
and on its own: a flush is written batch by batch, visible only at its commit, and a
failure reaches the caller."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shopstream.events.model import EventType, ShopperEvent
from shopstream.lake.errors import LakeError
from shopstream.lake.schemas import EVENTS
from shopstream.lake.sink import LakeSink

DAY_MS = 86_400_000


def _events(n: int) -> list[ShopperEvent]:
    return [ShopperEvent(EventType.PAGE_VIEW, i * DAY_MS // 4, f"s{i}", user_id=f"u{i}")
            for i in range(n)]


def _files(lake: Path, pattern: str) -> list[Path]:
    return sorted(lake.glob(f"stream=*/date=*/{pattern}"))


@pytest.mark.parametrize("thread", [False, True])
def test_a_flush_is_written_in_row_groups_and_visible_only_at_its_commit(
        tmp_path: Path, thread: bool) -> None:
    sink = LakeSink(tmp_path / "lake", streams=[EVENTS], batch_rows=3, writer_thread=thread)
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
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
    # Batches of 3 become row groups of the flush's file of their day.
    assert pq.ParquetFile(files[0]).metadata.num_row_groups == 2
    assert sink.rows[EVENTS] == 10 and sink.files == 3
    sink.close()


@pytest.mark.parametrize("thread", [False, True])
def test_a_run_killed_between_commits_leaves_only_temporary_files_which_a_resume_deletes(
        tmp_path: Path, thread: bool) -> None:
    lake, ck = tmp_path / "lake", tmp_path / "ck"
    sink = LakeSink(lake, streams=[EVENTS], batch_rows=3, writer_thread=thread)
    sink.start(None, resume=False, checkpoint_dir=ck)
    state = sink.commit()
    for event in _events(10):
        sink.write_event(event)
    assert sink._writer is not None
    sink._writer.close()  # the writer has written what it was given; no commit: a kill
    assert _files(lake, "*.parquet.tmp") and _files(lake, "*.parquet") == []
    resumed = LakeSink(lake, streams=[EVENTS])
    resumed.start(state, resume=True, checkpoint_dir=ck)
    assert list(lake.glob("stream=*/date=*/*")) == []
    resumed.close()


@pytest.mark.parametrize("thread", [False, True])
def test_a_write_that_fails_on_the_writer_thread_is_raised_on_the_callers(
        tmp_path: Path, thread: bool) -> None:
    lake = tmp_path / "lake"
    sink = LakeSink(lake, streams=[EVENTS], batch_rows=2, writer_thread=thread)
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ck")
    (lake / f"stream={EVENTS}").write_text("a file where the partitions should go")
    # Raised by the next write after the thread failed, at the latest by the commit.
    with pytest.raises(LakeError, match=r"lake writer: cannot write stream 'events'"):
        for event in _events(4):
            sink.write_event(event)
        sink.commit()
    with pytest.raises(LakeError, match=r"lake writer"):
        sink.close()
