"""The lake on S3: `run --lake s3://...` against a real S3-compatible server (moto's, on
127.0.0.1): a SIGKILLed and resumed run's lake equals an uninterrupted run's row for row,
`shopstream sql`, serve's /reports and the scheduled jobs read it, a second writer is
refused by the lock, errors are one line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import fastapi
import httpx
import pytest
from helpers import free_port, new_s3_bucket

from shopstream.api.read_workers import stop_processes
from shopstream.api.reports_routes import reports_router
from shopstream.cli import main
from shopstream.jobs.history import read_history, recent_products
from shopstream.jobs.new_shoppers import shoppers_since
from shopstream.lake.errors import LakeError
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url
from shopstream.lake.query import connect, query, report_sql
from shopstream.lake.schemas import SCHEMAS, view_name
from shopstream.stores.embedded import SqliteStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (``moto[server]``, in the dev extra) on a free port."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.fail("moto_server is not installed: run `make setup` (the dev extra)")
    port = free_port()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on 127.0.0.1:{port}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_processes([proc], timeout_s=10.0)


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket; the AWS settings in the environment (the commands read them)."""
    return new_s3_bucket(s3_endpoint, monkeypatch)


def all_rows(url: str | Path) -> dict[str, Counter[str]]:
    """Every row of every stream, read back as `shopstream sql` reads them."""
    con, rows = connect(url), {}
    try:
        for stream in SCHEMAS:
            result = con.execute(f"SELECT * FROM {view_name(stream)}")
            columns = [d[0] for d in result.description or ()]
            rows[stream] = Counter(json.dumps(dict(zip(columns, r, strict=True)),
                                              default=str, sort_keys=True)
                                   for r in result.fetchall())
    finally:
        con.close()
    return rows


def get_report(lake: str, name: str) -> httpx.Response:
    """``GET /reports/NAME`` of a server started with ``serve --lake LAKE``."""
    app = fastapi.FastAPI()
    app.include_router(reports_router(lake))

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://serve") as client:
            return await client.get(f"/reports/{name}")

    return asyncio.run(get())


def check_reports_and_jobs_read_it(lake: str, whole: str, tmp_path: Path) -> None:
    """serve's /reports and the scheduled jobs read the S3 lake as `report` reads it
    (they looked for a directory: 503, and a retrain with no history)."""
    answer = get_report(lake, "customers")
    assert answer.status_code == 200, answer.text
    expected = query(lake, report_sql("customers"))[1]
    assert expected and len(answer.json()["rows"]) == len(expected)
    assert get_report(lake, "customers?source=shop").status_code == 404
    history, local = read_history(lake, None, 365), read_history(whole, None, 365)
    assert history.source == "lake" and len(history.events) > 3_000
    assert sorted(map(repr, history.events)) == sorted(map(repr, local.events))
    users = {e.user_id for e in local.events[:50]}
    assert recent_products(lake, users, 0, 5) == recent_products(whole, users, 0, 5) != {}
    store = SqliteStore(str(tmp_path / "f.db"))
    new = shoppers_since(store, lake, set(), 0, 0, limit=3)
    assert new.from_lake == 3 and new == shoppers_since(store, whole, set(), 0, 0, limit=3)
    store.close()


def test_a_sigkilled_run_resumed_equals_an_uninterrupted_one_and_sql_reads_it(
        bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    assert main(["simulate", "--sessions", "800", "--days", "2", "--end",
                 "2026-03-04T00:00:00Z", "--bad-rate", "0.01", "-o", str(src),
                 "--no-progress"]) == 0
    # The uninterrupted run writes a local lake: the S3 lake must equal it row for row.
    whole, lake = str(tmp_path / "whole-lake"), f"s3://{bucket}/resumed"
    base = ["run", "--input", str(src), "--no-progress", "--checkpoint-every", "800"]
    assert main([*base, "--output-dir", str(tmp_path / "wo"), "--lake", whole]) == 0
    args = [*base, "--output-dir", str(tmp_path / "o"), "--lake", lake,
            "--checkpoint-dir", str(tmp_path / "ck")]
    with (tmp_path / "killed.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "shopstream.cli", *args],
                                stdout=log, stderr=subprocess.STDOUT)
    store = ObjectStore(parse_s3_url(lake))
    deadline = time.monotonic() + 60
    while not (tmp_path / "ck" / "checkpoint.pkl").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(store.keys("_commits/"))  # the checkpoint's flush is committed
    time.sleep(0.02)  # into the next flush
    assert proc.poll() is None, (tmp_path / "killed.log").read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert store.get("_lock.json") is not None  # the killed writer's lock is still there
    capsys.readouterr()
    assert main([*args, "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resumed_at_line"] > 0
    assert store.get("_lock.json") is None  # released at the end
    rows = all_rows(lake)
    assert rows == all_rows(whole)
    assert sum(rows["events"].values()) > 3_000
    assert main(["sql", "SELECT count(*) AS n, count(DISTINCT date) AS days FROM events",
                 "--lake", lake, "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == [{"n": sum(rows["events"].values()), "days": 2}]
    check_reports_and_jobs_read_it(lake, whole, tmp_path)
    # Compaction keeps every row, in one object per partition and run.
    assert main(["lake", "compact", lake]) == 0
    assert "files ->" in capsys.readouterr().out
    assert all_rows(lake) == rows
    parts = [k for k in store.keys("stream=events/")]
    assert parts and all("/compacted-" in k for k in parts)


def test_a_second_writer_is_refused_by_the_lock_with_one_line(
        bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"eventType": "PAGE_VIEW", "timestamp": 1, "sessionId": "s"}\n')
    url = f"s3://{bucket}/shop"
    holder = LeaseLock(ObjectStore(parse_s3_url(url)), "first")
    holder.acquire()
    try:
        code = main(["run", "--input", str(src), "--no-progress",
                     "--output-dir", str(tmp_path / "o"), "--lake", url])
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "is being written by run first" in err, err
    for _ in range(2):  # released; the second run of the same file replaces the first's
        assert main(["run", "--input", str(src), "--no-progress",
                     "--output-dir", str(tmp_path / "o"), "--lake", url]) == 0
    con = connect(url)
    assert con.execute("SELECT count(*) FROM dead_letter").fetchall() == [(1,)]
    con.close()


def test_a_missing_bucket_is_one_line(bucket: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Bad URLs and an unreachable endpoint: tests/unit/test_lake_s3_errors.py.
    url, says = "s3://no-such-bucket-here/x", "bucket 'no-such-bucket-here' does not exist"
    src = tmp_path / "in.jsonl"
    src.write_text('{"eventType": "PAGE_VIEW", "timestamp": 1, "sessionId": "s"}\n')
    for argv in (["run", "--input", str(src), "--no-progress", "--output-dir",
                  str(tmp_path / "o"), "--lake", url], ["sql", "SELECT 1", "--lake", url]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert not list(tmp_path.glob("o/*"))  # refused before the run opened its outputs


def test_a_lease_is_renewed_while_its_writer_lives_and_taken_over_once_it_stops(
        bucket: str) -> None:
    store = ObjectStore(parse_s3_url(f"s3://{bucket}/lease"))
    first, second = LeaseLock(store, "first", lease_s=1.2), LeaseLock(store, "second", 1.2)
    first.acquire()
    time.sleep(1.5)  # longer than the lease: only the renewals (every 0.4 s) keep it
    with pytest.raises(LakeError, match="is being written by run first"):
        second.acquire()
    first.check()
    first._stop.set()  # the first writer stops renewing (a frozen process)
    assert first._thread is not None
    first._thread.join()
    time.sleep(1.3)
    second.acquire()  # its lease ended: taken over by a conditional PUT
    with pytest.raises(LakeError, match="lost its lock to another writer"):
        first.check()  # the first writer's next commit is refused
    first.release()  # does not delete the new holder's lock
    assert json.loads(store.get("_lock.json")[0])["run"] == "second"  # type: ignore[index]
    second.release()
    assert store.get("_lock.json") is None
