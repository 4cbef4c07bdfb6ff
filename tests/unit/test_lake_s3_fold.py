"""The S3 lake's commit log folded (shopstream/lake/commit_log.py) against moto's S3 server
on 127.0.0.1: a read touches the latest fold and the commits since, however many commits
the lake had; a fold interrupted after its PUT leaves the same lake; a resume after a fold
forgets its later flushes; a run writer folds every ``fold_every`` flushes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from helpers import new_s3_bucket

from shopstream.events.model import EventType, ShopperEvent
from shopstream.lake.commit_log import fold_log, read_log
from shopstream.lake.commits import COMMITS, Commit, flush_commit_name, live_keys, write_commit
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.s3_read import stream_datasets
from shopstream.lake.s3_sink import S3LakeSink


@pytest.fixture
def store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    return ObjectStore(parse_s3_url(f"s3://{new_s3_bucket(s3_endpoint, monkeypatch)}/p"))


def part(run: str, seq: int) -> str:
    return f"stream=events/date=2026-03-01/part-{run}-{seq:06d}.parquet"


def write_history(store: ObjectStore, commits: int, fold_every: int) -> list[Commit]:
    """``commits`` commits: flushes of runs of 10, every 5th flush compacted with the one
    before, every 3rd run replaced; the log folded every ``fold_every`` commits."""
    lease = LeaseLock(store, "writer")
    lease.acquire()
    written: list[Commit] = []
    try:
        for i in range(commits):
            run, seq = f"r{i // 10}", i % 10 + 1
            if seq == 5:
                commit = Commit(f"{COMMITS}compact-{i}.json",
                                adds=(f"stream=events/date=2026-03-01/compacted-{run}-{i}.parquet",),
                                drops=(part(run, 3), part(run, 4)))
            elif seq == 10 and i % 30 == 29:
                commit = Commit(f"{COMMITS}replace-{run}.json", run, drop_runs=(f"r{i // 10 - 1}",))
            else:
                commit = Commit(flush_commit_name(run, seq), run, seq, f"in{i // 10}",
                                (part(run, seq),))
            write_commit(store, commit)
            written.append(commit)
            if (i + 1) % fold_every == 0:
                fold_log(store, lease)
    finally:
        lease.release()
    return written


def calls(store: ObjectStore) -> Counter[str]:
    """The S3 calls ``store`` makes from now on, by operation."""
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    store.client.meta.events.register("before-call.s3", count)
    return seen


def test_a_read_touches_the_latest_fold_and_the_commits_since(store: ObjectStore) -> None:
    """101 commits folded every 8 (bench/s3_commit_log.py grows them 10x): a read is one
    LIST and at most 8 + 1 GETs, and reads the keys of the whole log."""
    written = write_history(store, 101, fold_every=8)
    seen = calls(store)
    log = read_log(store)
    assert log.live_keys() == live_keys(written)
    assert seen["ListObjectsV2"] == 1 and seen["GetObject"] == 1 + 101 % 8, seen
    assert len(log.commits) == 101 % 8 and log.generation == 101 // 8
    assert sum(1 for _ in store.keys(COMMITS)) == 1 + 101 % 8  # folded commits go


def test_a_fold_interrupted_after_its_put_leaves_the_same_lake(store: ObjectStore) -> None:
    written = write_history(store, 12, fold_every=100)
    bodies = {name: store.get(name) for name in store.keys(COMMITS)}
    lease = LeaseLock(store, "folder")
    lease.acquire()
    first = fold_log(store, lease)
    # Killed before its deletes: the commits it folded are still there (same ETags).
    for name, found in bodies.items():
        assert found is not None
        store.put(name, found[0])
    after = read_log(store)
    assert after.live_keys() == live_keys(written) and after.commits == ()
    # A second fold deletes them; the older fold left by a killed fold is ignored.
    second = fold_log(store, lease)
    old_fold = first.folds[0]
    store.put(old_fold, b'{"generation": 1, "live": [], "dead_runs": [], "sources": {}, '
                        b'"merged": {}, "folded": {}}')
    lease.release()
    assert sorted(store.keys(COMMITS)) == sorted([old_fold, *second.folds])
    assert read_log(store).live_keys() == live_keys(written)


def test_a_commit_written_again_under_a_folded_name_is_read(store: ObjectStore) -> None:
    """A fold's leftover commit (its delete interrupted) written again with the same
    content, as a resume writes its flushes' commits again: another ETag, so it is read."""
    write_history(store, 4, fold_every=100)
    bodies = {name: store.get(name) for name in store.keys(COMMITS)}
    lease = LeaseLock(store, "r0")
    lease.acquire()
    fold_log(store, lease)
    for name, found in bodies.items():
        assert found is not None
        store.put(name, found[0])
    assert read_log(store).commits == ()
    write_commit(store, Commit(flush_commit_name("r0", 4), "r0", 4, "in0", (part("r0", 4),)))
    assert [c.name for c in read_log(store).commits] == [flush_commit_name("r0", 4)]
    lease.release()


def test_a_fold_forgets_a_resumed_runs_later_flushes(store: ObjectStore) -> None:
    write_history(store, 4, fold_every=2)
    lease = LeaseLock(store, "r0")
    lease.acquire()
    fold_log(store, lease, forget=("r0", 2))
    assert read_log(store).live_keys() == [part("r0", 1), part("r0", 2)]
    write_commit(store, Commit(flush_commit_name("r0", 3), "r0", 3, "in0", (part("r0", 3),)),
                 exclusive=True)
    assert read_log(store).live_keys() == [part("r0", s) for s in (1, 2, 3)]
    fold_log(store, lease)
    lease.release()
    assert read_log(store).live_keys() == [part("r0", s) for s in (1, 2, 3)]


def test_a_broken_fold_is_one_line(store: ObjectStore) -> None:
    store.put(f"{COMMITS}_fold-000000000001.json", b"[1]")
    with pytest.raises(LakeError, match=r"^lake s3://.*: fold '_commits/_fold-000000000001"
                       r"\.json' is not a fold of the commit log; restore it"):
        read_log(store)


def event(i: int) -> ShopperEvent:
    return ShopperEvent(EventType.PAGE_VIEW, 1_772_323_200_000 + i, f"s{i}", user_id=f"u{i}")


def test_a_run_folds_every_fold_every_flushes_and_resumes_after_a_fold(
        store: ObjectStore) -> None:
    url = f"{store.location.url}"
    sink = S3LakeSink(url, streams=["events"], fold_every=2)
    sink.start(None, resume=False, checkpoint_dir=None)
    states = []
    for i in range(5):
        sink.write_event(event(i))
        states.append(sink.commit())
    sink.close()
    assert read_log(store).generation == 2 and len(read_log(store).commits) == 1
    assert stream_datasets(url)["events"].count_rows() == 5
    resumed = S3LakeSink(url, streams=["events"], fold_every=2)
    resumed.start(states[1], resume=True, checkpoint_dir=None)  # after flush 2: 3-5 go
    assert stream_datasets(url)["events"].count_rows() == 2
    resumed.write_event(event(2))
    resumed.commit()
    resumed.close()
    assert stream_datasets(url)["events"].count_rows() == 3


def test_fold_every_is_checked_in_one_line(store: ObjectStore) -> None:
    from shopstream.errors import ConfigError

    with pytest.raises(ConfigError,
                       match=r"^S3LakeSink.fold_every must be an int >= 1, got 0$"):
        S3LakeSink(store.location.url, fold_every=0)


def test_a_read_during_a_fold_lists_again_and_reads_the_whole_log(store: ObjectStore) -> None:
    """A writer folds (and deletes the commits) between a reader's LIST and its GETs."""
    written = write_history(store, 12, fold_every=100)
    reader = ObjectStore(store.location)
    lease = LeaseLock(store, "folder")
    lease.acquire()
    folds: list[int] = []

    def fold_after_the_first_list(**_: Any) -> None:
        if not folds:
            folds.append(fold_log(store, lease).generation)

    reader.client.meta.events.register("after-call.s3.ListObjectsV2",
                                       fold_after_the_first_list)
    seen = calls(reader)
    log = read_log(reader)
    lease.release()
    assert folds == [1] and seen["ListObjectsV2"] == 2, seen  # listed again
    assert log.live_keys() == live_keys(written) and log.generation == 1


def test_a_fold_racing_another_writers_fold_is_refused_in_one_line(
        store: ObjectStore) -> None:
    """Two folders (one of them a paused writer that lost the lock): the store's
    If-None-Match lets one write each generation; the other deletes nothing."""
    written = write_history(store, 6, fold_every=100)
    other = ObjectStore(store.location)
    lease = LeaseLock(store, "folder")
    lease.acquire()
    raced: list[str] = []

    def fold_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if not raced and "/_fold-" in params["Key"]:  # just before this writer's fold PUT
            raced.append(fold_log(other, lease).folds[0])

    store.client.meta.events.register("before-parameter-build.s3.PutObject", fold_meanwhile)
    with pytest.raises(LakeError, match=r"^lake s3://.*: fold '_commits/_fold-000000000001"
                       r"\.json' was written by another writer meanwhile; this writer's fold "
                       r"is not written$"):
        fold_log(store, lease)
    lease.release()
    assert raced == [f"{COMMITS}_fold-000000000001.json"]
    assert read_log(other).live_keys() == live_keys(written)


@pytest.mark.parametrize("bad", [0, True, 1.5])
def test_bad_sink_options_are_config_errors(bad: object) -> None:
    """Option checks raise ConfigError, as configuration checks elsewhere (they raised
    LakeError)."""
    from shopstream.errors import ConfigError
    from shopstream.lake.sink import LakeSink

    with pytest.raises(ConfigError, match=r"S3LakeSink\.fold_every must be an int >= 1"):
        S3LakeSink("s3://lake-1/p", fold_every=bad)  # type: ignore[arg-type]
    if not isinstance(bad, bool):
        with pytest.raises(ConfigError, match=r"LakeSink\.batch_rows must be an int >= 1"):
            LakeSink("unused", batch_rows=bad)  # type: ignore[arg-type]
