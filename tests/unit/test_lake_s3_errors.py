"""A lake URL that is wrong, or an endpoint that does not answer: one line, no traceback
(no server needed; tests/integration/test_lake_s3.py runs against a real one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import free_port

from shopstream.cli import main


@pytest.mark.parametrize(("url", "says"), [
    ("s3:/nope", "is not s3://BUCKET/PREFIX"),
    ("gs://lake-1/x", "is not s3://BUCKET/PREFIX"),
    ("s3://Bad_Bucket/x", "is not a bucket name"),
    ("s3://lake-1/x?endpoint=y", "unknown option 'endpoint'"),
])
def test_a_bad_lake_url_is_one_line_and_writes_nothing(
        url: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    src.write_text('{"eventType": "PAGE_VIEW", "timestamp": 1, "sessionId": "s"}\n')
    for argv in (["run", "--input", str(src), "--no-progress", "--output-dir",
                  str(tmp_path / "o"), "--lake", url], ["sql", "SELECT 1", "--lake", url],
                 ["lake", "compact", url]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no local lake


def test_an_unreachable_endpoint_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    url = f"s3://lake-1/x?endpoint_override=http://127.0.0.1:{free_port()}"
    assert main(["sql", "SELECT 1", "--lake", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the endpoint http://127.0.0.1:" in err, err


def test_an_endpoint_password_stays_out_of_the_error_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Error lines named the endpoint as given (an S3 erasure copies them into its log)."""
    from shopstream.lake.errors import LakeError
    from shopstream.lake.object_store import ObjectStore, parse_s3_url

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://shop:s3cret@127.0.0.1:{free_port()}")
    with pytest.raises(LakeError, match="cannot reach the endpoint") as caught:
        ObjectStore(parse_s3_url("s3://lake-1/x")).check_bucket()
    assert "s3cret" not in str(caught.value) and "shop:***@127.0.0.1" in str(caught.value)
