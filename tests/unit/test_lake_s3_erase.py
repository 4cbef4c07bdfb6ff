"""``erase --lake s3://...`` is refused with one line (erasure from an S3 lake is not
implemented; it used to fail with "'s3:/b/p' is not a directory")."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.cli import main
from shopstream.lake.errors import LakeError
from shopstream.privacy.lake_erasure import erase_from_lake


def test_erasure_from_an_s3_lake_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LakeError, match=r"erasure from a lake on S3 .* is not supported yet"):
        erase_from_lake("s3://lake-1/p", frozenset({"ann"}))
    monkeypatch.chdir(tmp_path)  # the default erasure log is ./erasures.jsonl
    assert main(["erase", "ann", "--lake", "s3://lake-1/p"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3://lake-1/p" in err, err
    assert "not supported yet" in err and "not a directory" not in err, err


def test_an_s3_lake_is_refused_before_the_store_is_erased(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store erased while the lake keeps the shopper's rows would look done: the
    command refuses before it touches anything, and no erasure is recorded."""
    from shopstream.stores.embedded import SqliteStore

    db = tmp_path / "f.db"
    SqliteStore(db).close()
    erasures = tmp_path / "erasures.jsonl"
    assert main(["erase", "ann", "--store", str(db), "--lake", "s3://AKIA:se/cret@lake-1/p",
                 "--erasure-log", str(erasures)]) == 1
    err = capsys.readouterr().err
    assert "nothing was erased" in err and "cret" not in err, err
    assert not erasures.exists()
