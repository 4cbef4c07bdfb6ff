"""The retention-cleanup job run once (through the job runner, on a fixed clock) over a
store, a real Parquet lake and a checkpoint directory holding entries on both sides of
each cut-off: exactly the expired ones go, and the run is recorded with its counts."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from shopstream.events import EventType, ShopperEvent
from shopstream.jobs.config import JobsConfig
from shopstream.jobs.retention import CleanupConfig
from shopstream.jobs.service import JobsService
from shopstream.privacy.retention import RetentionConfig
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore

NOW_S = datetime(2026, 6, 10, tzinfo=UTC).timestamp()  # midnight: the cut-off is a day edge
HOUR_MS = 3_600_000


def _ms(day: str, hour: int = 12) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000) + (
        hour * HOUR_MS)


def _lake(root: Path) -> None:
    from shopstream.lake.sink import LakeSink

    # events are kept 30 days: at 2026-06-10T00:00 the cut-off is 2026-05-11T00:00, so
    # 2026-05-10 (ending exactly at the cut-off) goes and 2026-05-11 stays, whole.
    days = {"gone-1": ("2026-04-01", 3), "gone-2": ("2026-05-10", 0),
            "gone-3": ("2026-05-10", 23), "kept-1": ("2026-05-11", 0),
            "kept-2": ("2026-05-11", 23), "kept-3": ("2026-06-09", 12)}
    sink = LakeSink(root)
    sink.start(None, resume=False, checkpoint_dir=None)
    for event_id, (day, hour) in days.items():
        sink.write_event(ShopperEvent(EventType.VIEW_PRODUCT, _ms(day, hour), "s1",
                                      event_id=event_id, user_id="u1", product_id="p1"))
    sink.close()


def _checkpoints(root: Path) -> None:
    root.mkdir()
    (root / "checkpoint.pkl").write_bytes(b"the live run's")
    os.utime(root / "checkpoint.pkl", (NOW_S - 90_000, NOW_S - 90_000))  # old, never removed
    for n in range(4):  # run-3 newest
        run = root / f"run-{n}"
        run.mkdir()
        (run / "checkpoint.pkl").write_bytes(b"x")
        os.utime(run / "checkpoint.pkl", (NOW_S - 4_000 + n, NOW_S - 4_000 + n))
    stale, fresh = root / "checkpoint.tmp", root / "run-3" / "checkpoint.tmp"
    for path, age in ((stale, 3_601), (fresh, 3_599)):  # the cut-off is one hour
        path.write_bytes(b"half")
        os.utime(path, (NOW_S - age, NOW_S - age))


def _rows(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return sorted(key for (key,) in conn.execute("SELECT key FROM kv"))
    finally:
        conn.close()


def test_one_run_removes_exactly_what_is_past_its_cut_off(tmp_path: Path) -> None:
    db, lake, ckpt = tmp_path / "features.db", tmp_path / "lake", tmp_path / "ckpt"
    writer = SqliteStore(db, clock=lambda: NOW_S - 100.0)
    writer.write_batch([StoreEntry("expired-before", 1, 99.0),     # expires at NOW_S - 1
                        StoreEntry("expired-at-now", 2, 100.0),    # expires at NOW_S
                        StoreEntry("alive-after", 3, 101.0),       # expires at NOW_S + 1
                        StoreEntry("no-ttl", 4)])
    writer.close()
    _lake(lake)
    _checkpoints(ckpt)
    assert {p.name for p in (lake / "stream=events").iterdir()} == {
        "date=2026-04-01", "date=2026-05-10", "date=2026-05-11", "date=2026-06-09"}

    store = SqliteStore(db)
    config = JobsConfig(lake=str(lake), checkpoint_dirs=(str(ckpt),),
                        retention=RetentionConfig(streams={"events": 30}),
                        cleanup=CleanupConfig(keep_checkpoints=2))
    service = JobsService(store, config, clock=lambda: NOW_S)
    try:
        record = service.runner.run("retention-cleanup")
        assert record.outcome == "ok", record.error
        assert dict(record.counts) == {"store_expired": 2, "lake_partitions": 2,
                                       "lake_files": 2, "checkpoints_removed": 2,
                                       "checkpoint_tmp_removed": 1}
        last = service.log.last_run("retention-cleanup")
        assert last is not None and last.counts == record.counts
    finally:
        service.stop()
        store.close()

    assert _rows(db) == ["alive-after", "no-ttl"]
    assert {p.name for p in (lake / "stream=events").iterdir()} == {
        "date=2026-05-11", "date=2026-06-09"}
    from shopstream.lake.query import connect

    con = connect(lake)
    try:
        ids = sorted(r[0] for r in con.execute("SELECT event_id FROM events").fetchall())
    finally:
        con.close()
    assert ids == ["kept-1", "kept-2", "kept-3"]
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "checkpoint.pkl", "run-2", "run-3"]
    assert (ckpt / "run-3" / "checkpoint.tmp").exists()
