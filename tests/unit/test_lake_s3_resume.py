"""The S3 lake's writer against a real S3 server (moto's, in this process on 127.0.0.1;
tests/integration/test_lake_s3.py runs whole runs): a resume refused after a compaction
merged its flushes, the lock's lease through lost answers and store errors, exclusive flush
commits, and the staging directory under the checkpoint directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import free_port, new_s3_bucket

from shopstream.lake.commits import COMMITS, Commit, flush_commit_name, write_commit
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LOCK_KEY, LeaseLock, lock_body
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.s3_sink import S3LakeSink


@pytest.fixture
def lake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A lake URL in a new bucket; the AWS settings in the environment."""
    return f"s3://{new_s3_bucket(s3_endpoint, monkeypatch)}/p"


def part(run: str, seq: int) -> str:
    return f"stream=events/date=2026-03-01/part-{run}-{seq:06d}.parquet"


def flushes_then_compaction(store: ObjectStore, merged_seqs: range) -> list[str]:
    """Flushes 1-3 of run r1 committed, then a compaction of ``merged_seqs``."""
    for seq in (1, 2, 3):
        store.put(part("r1", seq), b"x")
        write_commit(store, Commit(flush_commit_name("r1", seq), "r1", seq, None,
                                   (part("r1", seq),)))
    merged = "stream=events/date=2026-03-01/compacted-r1-abc.parquet"
    store.put(merged, b"x")
    write_commit(store, Commit(f"{COMMITS}compact-abc.json", adds=(merged,),
                               drops=tuple(part("r1", s) for s in merged_seqs)))
    return sorted(store.keys(""))


def test_a_resume_is_refused_when_flushes_after_its_checkpoint_were_compacted(
        lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    before = flushes_then_compaction(store, range(1, 4))
    sink = S3LakeSink(lake, streams=["events"])
    with pytest.raises(LakeError, match=r"run r1 of the lake .* was compacted after the "
                       r"checkpoint \(flush 1; files of its flushes up to 3 .*run again "
                       r"without --resume"):
        sink.start({"run": "r1", "seq": 1, "max_ms": 0}, resume=True, checkpoint_dir=None)
    sink.close()
    assert sorted(k for k in store.keys("") if k != LOCK_KEY) == before  # nothing deleted


def test_a_resume_after_a_compaction_up_to_its_checkpoint_goes_on(lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    flushes_then_compaction(store, range(1, 3))
    sink = S3LakeSink(lake, streams=["events"])
    sink.start({"run": "r1", "seq": 2, "max_ms": 0}, resume=True, checkpoint_dir=None)
    sink.close()
    assert part("r1", 3) not in set(store.keys(""))  # flush 3 forgotten, written again


def test_a_conditional_put_retried_after_its_answer_was_lost_is_not_a_lost_lock(
        lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    lease = LeaseLock(store, "r1", lease_s=600)
    # acquire: the first PUT landed but its answer was lost; the retry's If-None-Match
    # fails on the writer's own lock.
    store.put(LOCK_KEY, json.dumps(lock_body("r1", int(time.time() * 1000) + 600_000,
                                             lease.owner)).encode())
    lease.acquire()
    try:
        # renew: the same with If-Match (the lock's ETag is no longer the one last read).
        store.put(LOCK_KEY, json.dumps(lock_body("r1", int(time.time() * 1000) + 600_000,
                                                 lease.owner)).encode())
        assert lease.renew() and not lease.lost
        lease.check()
        # Another writer's lock: lost.
        store.put(LOCK_KEY, json.dumps(lock_body("r2", int(time.time() * 1000) + 600_000,
                                                 "someone-else")).encode())
        assert not lease.renew()
        with pytest.raises(LakeError, match="lost its lock to another writer"):
            lease.check()
    finally:
        lease.release()


def test_a_store_error_while_renewing_is_tried_again_until_the_lease_ends(
        lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    lease = LeaseLock(store, "r1", lease_s=600)
    lease.acquire()
    try:
        down = ObjectStore(parse_s3_url(
            f"{lake}?endpoint_override=http://127.0.0.1:{free_port()}"))
        lease.store = down
        assert not lease.renew() and not lease.lost  # the lease runs: try again later
        lease.store = store
        assert lease.renew() and not lease.lost
        lease.check()
        lease.store = down
        lease._expires_ms = int(time.time() * 1000) - 1  # the lease ended meanwhile
        with pytest.raises(LakeError, match="could not renew its lock before its lease"):
            lease.check()
    finally:
        lease.store = store
        lease.release()


def test_a_flush_commit_is_not_overwritten_by_another_writer(lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    mine = Commit(flush_commit_name("r1", 1), "r1", 1, None, (part("r1", 1),))
    write_commit(store, mine, exclusive=True)
    write_commit(store, mine, exclusive=True)  # its own, written again: fine
    other = Commit(mine.name, "r1", 1, None, (part("r1", 1), part("r1", 9)))
    with pytest.raises(LakeError, match="was written by another writer meanwhile"):
        write_commit(store, other, exclusive=True)
    assert json.loads(store.get(mine.name)[0])["adds"] == [part("r1", 1)]  # type: ignore[index]


def test_flushes_stage_under_the_checkpoint_dir_cleared_at_open(lake: str,
                                                                tmp_path: Path) -> None:
    leftover = tmp_path / "ckpt" / "lake-staging" / "killed" / "stream=events" / "x.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"a killed run's staged flush")
    sink = S3LakeSink(lake, streams=["events"])
    sink.start(None, resume=False, checkpoint_dir=tmp_path / "ckpt")
    assert not leftover.exists()
    assert sink._staging == tmp_path / "ckpt" / "lake-staging" / sink.run
    assert sink._staging.is_dir()
    sink.close()
    assert not (tmp_path / "ckpt" / "lake-staging").exists()
