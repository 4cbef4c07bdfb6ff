"""The retention sweep on a lake on S3 (moto's S3 server on 127.0.0.1): partitions past
their stream's period are dropped by one commit and their objects deleted (the sweep used
to leave an S3 lake as it was, ``lake_skipped``); a run holding the lake makes it skip
with the reason; a missing bucket is one line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import new_s3_bucket

from shopstream.events.model import EventType, ShopperEvent
from shopstream.jobs.errors import JobError
from shopstream.jobs.retention import drop_old_partitions
from shopstream.lake.commit_log import read_log
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.s3_read import stream_datasets
from shopstream.lake.s3_sink import S3LakeSink
from shopstream.privacy.retention import RetentionConfig

JUNE_10 = int(datetime(2026, 6, 10, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000


@pytest.fixture
def lake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Events of 2026-01-01 (two flushes), 2026-06-01 and 2026-06-09 on S3."""
    url = f"s3://{new_s3_bucket(s3_endpoint, monkeypatch)}/p"
    sink = S3LakeSink(url, streams=["events"])
    sink.start(None, resume=False, checkpoint_dir=None)
    for i, when in enumerate((JUNE_10 - 160 * DAY, JUNE_10 - 160 * DAY, JUNE_10 - 9 * DAY,
                              JUNE_10 - DAY)):
        sink.write_event(ShopperEvent(EventType.PAGE_VIEW, when, f"s{i}", user_id=f"u{i}"))
        sink.commit()
    sink.close()
    return url


def days(url: str) -> list[str]:
    table = stream_datasets(url)["events"].to_table(columns=["date"])
    return sorted(str(d) for d in table.column("date").to_pylist())


def test_partitions_past_retention_are_dropped_by_one_commit(lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    counts = drop_old_partitions(lake, RetentionConfig(streams={"events": 30}), JUNE_10)
    assert counts == {"lake_partitions": 1, "lake_files": 2}
    assert days(lake) == ["2026-06-01", "2026-06-09"]
    assert not any("date=2026-01-01" in key for key in store.keys("stream="))
    log = read_log(store)
    assert log.commits == () and log.generation == 1  # its commit folded
    again = drop_old_partitions(lake, RetentionConfig(streams={"events": 5}), JUNE_10)
    assert again == {"lake_partitions": 1, "lake_files": 1}
    assert days(lake) == ["2026-06-09"]


def test_nothing_past_retention_changes_nothing(lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    before = sorted(store.keys(""))
    counts = drop_old_partitions(lake, RetentionConfig(streams={"events": 365}), JUNE_10)
    assert counts == {"lake_partitions": 0, "lake_files": 0}
    assert sorted(store.keys("")) == before


def test_a_run_holding_the_lake_makes_the_sweep_skip_it_with_the_reason(lake: str) -> None:
    lease = LeaseLock(ObjectStore(parse_s3_url(lake)), "run42")
    lease.acquire()
    try:
        counts = drop_old_partitions(lake, RetentionConfig(streams={"events": 30}), JUNE_10)
    finally:
        lease.release()
    assert counts["lake_partitions"] == 0
    assert "is being written by run run42" in str(counts["lake_skipped"])
    assert "2026-01-01" in days(lake)


def test_a_missing_bucket_is_one_line(s3_endpoint: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    new_s3_bucket(s3_endpoint, monkeypatch)
    with pytest.raises(JobError, match=r"^retention-cleanup: lake s3://no-such-lake/p: cannot "
                       r"reach the bucket '': bucket 'no-such-lake' does not exist at http"):
        drop_old_partitions("s3://no-such-lake/p", RetentionConfig(), JUNE_10)


def test_a_run_taking_the_lake_just_before_the_sweep_makes_it_skip(
        lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that takes the lock between the old pre-check and the sweep's own acquire
    made the job fail (JobError); acquire decides now, and its refusal is ``lake_skipped``."""
    real_acquire = LeaseLock.acquire
    run = LeaseLock(ObjectStore(parse_s3_url(lake)), "run43")

    def acquire_after_a_run(self: LeaseLock) -> None:
        if self.run.startswith("retention-"):
            real_acquire(run)
        real_acquire(self)

    monkeypatch.setattr(LeaseLock, "acquire", acquire_after_a_run)
    try:
        counts = drop_old_partitions(lake, RetentionConfig(streams={"events": 30}), JUNE_10)
    finally:
        run.release()
    assert counts["lake_partitions"] == 0
    assert "is being written by run run43" in str(counts["lake_skipped"])
    assert "2026-01-01" in days(lake)
