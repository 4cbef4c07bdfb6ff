"""``erase --lake s3://...`` against moto's S3 server on 127.0.0.1: the shopper's rows go
through one commit of the lake's commit log (shopstream/privacy/s3_erasure.py), the
erasure log records it, old objects are deleted, a run holding the lake refuses it in one
line (it used to be refused whatever the lake held: 'not supported yet')."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import new_s3_bucket

from shopstream.cli import main
from shopstream.events.model import EventType, ShopperEvent
from shopstream.lake.commit_log import read_log
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.s3_read import stream_datasets
from shopstream.lake.s3_sink import S3LakeSink
from shopstream.privacy.erasure import ErasureLog, erase_user

DAY = 1_772_323_200_000  # 2026-03-01


@pytest.fixture
def lake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A lake on S3 with two flushes: ann's and bo's events (ann's session s1 has an
    anonymous event too), then only bo's."""
    url = f"s3://{new_s3_bucket(s3_endpoint, monkeypatch)}/p"
    sink = S3LakeSink(url, streams=["events"])
    sink.start(None, resume=False, checkpoint_dir=None)
    for i, (user, session) in enumerate((("ann", "s1"), ("bo", "s2"), (None, "s1"))):
        sink.write_event(ShopperEvent(EventType.PAGE_VIEW, DAY + i, session, user_id=user))
    sink.commit()
    sink.write_event(ShopperEvent(EventType.PAGE_VIEW, DAY + 9, "s3", user_id="bo"))
    sink.commit()
    sink.close()
    return url


def users(url: str) -> list[tuple[str | None, str]]:
    table = stream_datasets(url)["events"].to_table(columns=["user_id", "session_id"])
    return sorted(zip(table.column("user_id").to_pylist(),
                      table.column("session_id").to_pylist(), strict=True),
                  key=lambda pair: (pair[0] or "", pair[1]))


def test_erasure_replaces_the_shoppers_objects_through_one_commit(
        lake: str, tmp_path: Path) -> None:
    store = ObjectStore(parse_s3_url(lake))
    before = set(read_log(store).live)
    log = ErasureLog(tmp_path / "erasures.jsonl")
    report = erase_user("ann", lake=lake, log=log)
    assert users(lake) == [("bo", "s2"), ("bo", "s3")]
    assert report.lake is not None and report.lake["rows"] == 2
    assert report.lake["filesRewritten"] == 1 and report.lake["filesDeleted"] == 0
    assert report.lake["commit"].startswith("_commits/erase-")
    assert log.find("ann")["lake"]["commit"] == report.lake["commit"]
    after = read_log(store)
    gone, added = before - after.live, after.live - before
    assert len(gone) == 1 and len(added) == 1 and "/compacted-" in next(iter(added))
    assert not gone & set(store.keys("stream="))  # the old object is deleted
    assert after.commits == () and after.generation == 1  # the erasure's commit folded


def test_an_erasure_killed_after_its_commit_leaves_old_objects_the_next_one_deletes(
        lake: str) -> None:
    store = ObjectStore(parse_s3_url(lake))
    keys = list(store.keys("stream="))
    bodies = {key: store.get(key) for key in keys}
    erase_user("ann", lake=lake)
    for key, found in bodies.items():  # as if killed before its deletes
        assert found is not None
        store.put(key, found[0])
    assert users(lake) == [("bo", "s2"), ("bo", "s3")]  # the old objects are not read
    report = erase_user("nobody", lake=lake)
    assert report.lake == {"filesRewritten": 0, "filesDeleted": 0, "rowsRemoved": {},
                           "rows": 0}
    assert set(store.keys("stream=")) == set(read_log(store).live)


def test_a_file_left_without_rows_is_dropped(lake: str) -> None:
    report = erase_user("bo", lake=lake)
    assert report.lake is not None and report.lake["filesDeleted"] == 1
    assert users(lake) == [("ann", "s1"), ("s1", "s1")]  # anonymous: its session


def test_erase_is_refused_in_one_line_while_a_run_holds_the_lake(
        lake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lease = LeaseLock(ObjectStore(parse_s3_url(lake)), "run42")
    lease.acquire()
    try:
        assert main(["erase", "ann", "--lake", lake,
                     "--erasure-log", str(tmp_path / "e.jsonl")]) == 1
    finally:
        lease.release()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is being written by run run42" in err, err
    assert ("ann", "s1") in users(lake)
    record = json.loads((tmp_path / "e.jsonl").read_text())
    assert record["errors"] and record["lake"] is None


def test_erase_command_on_an_s3_lake(lake: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase", "ann", "--lake", lake,
                 "--erasure-log", str(tmp_path / "e.jsonl")]) == 0
    capsys.readouterr()
    assert users(lake) == [("bo", "s2"), ("bo", "s3")]


def test_a_bad_s3_lake_url_is_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase", "ann", "--lake", "s3://AKIA:se/cret@lake-1/p",
                 "--erasure-log", str(tmp_path / "e.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a bucket name" in err and "cret" not in err, err


def test_an_erasure_puts_each_new_object_at_once_and_a_killed_one_leaves_no_trace(
        lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each replacement is PUT as soon as it is built (the old code held them all in
    memory until the commit: none was in the store when the erasure was killed on its
    next object); killed before its commit, the erasure changed nothing readers see and
    the next change deletes its object."""
    from shopstream.privacy import s3_erasure

    store = ObjectStore(parse_s3_url(lake))
    real_mask = s3_erasure.row_mask
    calls = {"n": 0}

    def dying_mask(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # ann's object (the first flush) is rewritten; then killed
            raise KeyboardInterrupt
        return real_mask(*args)

    monkeypatch.setattr(s3_erasure, "row_mask", dying_mask)
    with pytest.raises(KeyboardInterrupt):
        erase_user("ann", lake=lake)
    monkeypatch.setattr(s3_erasure, "row_mask", real_mask)
    orphans = set(store.keys("stream=")) - set(read_log(store).live)
    assert len(orphans) == 1 and "/compacted-" in next(iter(orphans))
    assert ("ann", "s1") in users(lake)  # nothing committed
    erase_user("nobody", lake=lake)  # the next change (locked_lake) deletes it
    assert set(store.keys("stream=")) == set(read_log(store).live)
    erase_user("ann", lake=lake)
    assert users(lake) == [("bo", "s2"), ("bo", "s3")]
