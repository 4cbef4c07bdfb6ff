"""Erasure (issue 17, part 3): a shopper with events, features, recommendations, lake rows,
dead letters and a checkpoint is erased; afterwards no byte of their id is in the store,
the lake or a checkpoint written after the erasure, and a resumed run does not bring them
back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from privacy_data import (
    SPLIT,
    T0,
    TARGET,
    TARGET_SESSIONS,
    TOTAL,
    lake_bytes,
    lake_text,
    run,
    sqlite_bytes,
    write_input,
)

from shopstream.cli import main
from shopstream.events.pseudonym import KEY_ENV, Pseudonymiser
from shopstream.privacy.erasure import ErasureLog, erase_user, subject_digest
from shopstream.runners.embedded.checkpoint import CheckpointStore
from shopstream.stores.embedded import SqliteStore

KEY = "test-key-0123456789abcdef"


def _crashed_run(tmp_path: Path) -> tuple[Path, Path, Path, Path, Path]:
    src = write_input(tmp_path / "in.jsonl")
    out, ckpt, lake, db = (tmp_path / "out", tmp_path / "ckpt", tmp_path / "lake",
                           tmp_path / "store" / "features.db")
    store = SqliteStore(db)
    try:
        run(src, out, ckpt, lake, store, crash=True)
    finally:
        store.close()
    return src, out, ckpt, lake, db


def _checkpoint_bytes(ckpt: Path) -> bytes:
    return (ckpt / "checkpoint.pkl").read_bytes()


def test_erased_shopper_leaves_no_byte_and_a_resumed_run_does_not_bring_them_back(
        tmp_path: Path) -> None:
    src, out, ckpt, lake, db = _crashed_run(tmp_path)
    needle = TARGET.encode()
    # Before: they are everywhere (so the checks below can fail).
    assert needle in sqlite_bytes(db)
    assert TARGET in lake_text(lake)
    assert needle in _checkpoint_bytes(ckpt)
    loaded = CheckpointStore(ckpt).load()
    assert loaded is not None and loaded["tally"]["lines"] == SPLIT
    store = SqliteStore(db)
    before = store.get("user:other-shopper-1:product_view_count_5min")
    assert before is not None and store.get(f"user:{TARGET}:product_view_count_5min")
    assert store.get(f"profile:user:{TARGET}") is not None  # a Customer 360 profile
    assert store.get("profile:user:other-shopper-1") is not None

    # The weekly retrain's model versions, from the lake (beside the store).
    from shopstream.jobs.config import JobsConfig
    from shopstream.jobs.shop_jobs import ShopJobs

    ShopJobs(store, JobsConfig(lake=str(lake), events=str(src))).retrain(T0 + 3_600_000)
    models = db.with_name("features.models")
    assert any(needle in p.read_bytes() for p in models.rglob("*") if p.is_file())

    log = ErasureLog(tmp_path / "erasures.jsonl")
    assert any(needle in p.read_bytes() for p in out.glob("*.jsonl"))
    report = erase_user(TARGET, store=store, lake=lake, checkpoint_dir=ckpt, output_dir=out,
                        models=models, log=log)
    store.close()
    assert report.models == {"versionsRewritten": 1}
    assert not any(needle in p.read_bytes() for p in models.rglob("*") if p.is_file())

    assert report.complete and report.store_keys > 0
    assert report.lake is not None and report.lake["rows"] > 0
    assert report.checkpoint is not None and report.checkpoint["keysRemoved"] > 0
    assert report.sessions >= len(TARGET_SESSIONS)
    assert report.outputs is not None and report.outputs["linesRemoved"]["dead-letter"] == 2
    outputs = [p.read_bytes() for p in sorted(out.glob("*.jsonl"))]
    for where in (sqlite_bytes(db), lake_bytes(lake), _checkpoint_bytes(ckpt), *outputs):
        assert needle not in where
        for session in TARGET_SESSIONS:
            assert session.encode() not in where
    assert TARGET not in lake_text(lake)
    # The others are untouched.
    store = SqliteStore(db)
    assert store.get("user:other-shopper-1:product_view_count_5min") == before
    assert store.get("profile:user:other-shopper-1") is not None
    store.close()
    assert "other-shopper-1" in lake_text(lake)

    # The record says what was done and when, without the id.
    record = log.find(TARGET)
    assert record is not None and record["complete"] is True
    assert record["subject"] == subject_digest(TARGET, None)
    assert record["store"]["keysRemoved"] == report.store_keys
    assert needle not in log.path.read_bytes()

    # A resumed run, to the end of the input, does not bring them back.
    store = SqliteStore(db)
    try:
        summary = run(src, out, ckpt, lake, store, resume=True)
    finally:
        store.close()
    assert summary is not None and summary.lines == TOTAL and summary.resumed_at_line == SPLIT
    outputs = [p.read_bytes() for p in sorted(out.glob("*.jsonl"))]
    for where in (sqlite_bytes(db), lake_bytes(lake), _checkpoint_bytes(ckpt), *outputs):
        assert needle not in where
    # The output files were cut at the moved positions: whole records, none lost twice.
    # The others' features equal those of an uninterrupted run, line for line.
    whole = tmp_path / "whole"
    store = SqliteStore(tmp_path / "whole.db")
    try:
        run(src, whole, tmp_path / "whole-ckpt", tmp_path / "whole-lake", store)
    finally:
        store.close()
    theirs = (needle, *(s.encode() for s in TARGET_SESSIONS))
    expected = [line for line in (whole / "shopper-features.jsonl").read_bytes().splitlines()
                if not any(n in line for n in theirs)]
    assert (out / "shopper-features.jsonl").read_bytes().splitlines() == expected
    assert any(b"other-shopper-4" in line for line in expected)
    assert TARGET not in lake_text(lake)
    assert "other-shopper-4" in lake_text(lake)


def test_erasure_with_a_key_removes_the_pseudonym_and_the_raw_id_is_never_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    _src, out, ckpt, lake, db = _crashed_run(tmp_path)
    raw, alias = TARGET.encode(), Pseudonymiser(KEY.encode()).pseudonym(TARGET).encode()
    written = [sqlite_bytes(db), lake_bytes(lake), lake_text(lake).encode(),
               _checkpoint_bytes(ckpt),
               *(p.read_bytes() for p in sorted(out.glob("*.jsonl")))]
    assert not any(raw in where for where in written)  # pseudonymised at ingest
    assert alias in sqlite_bytes(db) and alias in _checkpoint_bytes(ckpt)
    letters = (out / "dead-letter.jsonl").read_text().splitlines()
    assert len(letters) == 2 and alias.decode() in letters[0]

    code = main(["erase", TARGET, "--store", str(db), "--lake", str(lake),
                 "--checkpoint-dir", str(ckpt), "--erasure-log",
                 str(tmp_path / "erasures.jsonl"), "--json"])
    assert code == 0
    for where in (sqlite_bytes(db), lake_bytes(lake), lake_text(lake).encode(),
                  _checkpoint_bytes(ckpt)):
        assert alias not in where and raw not in where
    log = (tmp_path / "erasures.jsonl").read_bytes()
    assert raw not in log and alias not in log
    assert json.loads(log)["subject"] == subject_digest(TARGET, Pseudonymiser(KEY.encode()))


def test_erase_command_needs_a_place_and_tells_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default erasure log is ./erasures.jsonl
    assert main(["erase", TARGET]) == 1
    assert "give at least one of --store" in capsys.readouterr().err
    assert main(["erase", TARGET, "--lake", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a directory" in err
    # The failure is on record too.
    assert main(["erase", TARGET, "--checkpoint-dir", str(tmp_path / "c"), "--erasure-log",
                 str(tmp_path / "e.jsonl")]) == 0
    assert json.loads((tmp_path / "e.jsonl").read_text())["checkpoint"] == {"found": False}
