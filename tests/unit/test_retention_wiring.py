"""``--retention-config`` on ``run`` and ``serve``: a stream's store entries get the
configured time to live (the ``store`` days cap), and ``serve --workers N>1`` says at
start that it runs no scheduler while ``shopstream jobs`` beside it works on the same
store."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import cli_server

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.cli import main

DAY_S = 86_400.0


def _events(user: str = "u1") -> list[dict[str, Any]]:
    now = int(time.time() * 1000) - 60_000
    return [{"eventType": "VIEW_PRODUCT", "sessionId": f"{user}-s", "userId": user,
             "timestamp": now + i * 1_000, "productId": f"p{i % 7}", "price": 10.0,
             "device": "mobile", "location": "Lyon"} for i in range(8)]


def _write(path: Path, events: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def _ttls(db: Path) -> dict[str, float]:
    """Seconds left to live of every entry of the SQLite store (inf: none)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT key, expires_at FROM kv").fetchall()
    finally:
        conn.close()
    now = time.time()
    return {key: float("inf") if at is None else at - now for key, at in rows}


def _retention_file(tmp_path: Path, days: int = 1) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(f"[retention]\nevents = 30\nstore = {days}\n")
    return path


def test_run_caps_every_store_ttl_at_the_configured_store_days(tmp_path: Path) -> None:
    _write(tmp_path / "in.jsonl", _events())
    capped, plain = tmp_path / "capped.db", tmp_path / "plain.db"
    for db, extra in ((capped, ["--retention-config", str(_retention_file(tmp_path))]),
                      (plain, [])):
        assert main(["run", "--input", str(tmp_path / "in.jsonl"), "--output-dir",
                     str(tmp_path / db.stem), "--store", str(db), *extra]) == 0
    before, after = _ttls(plain), _ttls(capped)
    context = "user:u1:device_types"
    # without a cap: a week; with `store = 1`: one day, and never longer for any key
    assert 7 * DAY_S - 300 < before[context] <= 7 * DAY_S
    assert DAY_S - 300 < after[context] <= DAY_S
    assert set(before) == set(after)
    for key, left in after.items():
        assert left <= DAY_S or left == float("inf"), key
        # a time to live already shorter than the cap is kept as it was
        if before[key] < DAY_S - 300:
            assert abs(before[key] - left) < 300, key
    assert 500 < after["user:u1:product_view_count_5min"] <= 600


def test_run_refuses_a_file_without_a_retention_section(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "in.jsonl", _events())
    bad = tmp_path / "jobs.toml"
    bad.write_text("[hot]\nmax_shoppers = 10\n")
    assert main(["run", "--input", str(tmp_path / "in.jsonl"), "--output-dir",
                 str(tmp_path / "out"), "--store", str(tmp_path / "f.db"),
                 "--retention-config", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert "has no [retention] section" in err and len(err.splitlines()) == 1


def test_serve_hosted_pipeline_writes_with_the_capped_ttl(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    server = BackgroundServer(ServeConfig(store=str(db), port=0, idle_ms=100,
                                          out_of_orderness_ms=0, store_days=1))
    server.start()
    try:
        answer = httpx.post(server.url + "/events", json=_events("u9"), timeout=30)
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 20
        while "user:u9:device_types" not in _ttls(db):
            assert time.monotonic() < deadline, "the pipeline wrote nothing"
            time.sleep(0.05)
    finally:
        server.stop()
    ttls = _ttls(db)
    assert DAY_S - 300 < ttls["user:u9:device_types"] <= DAY_S
    assert all(left <= DAY_S or left == float("inf") for left in ttls.values())


def test_the_banner_of_a_single_worker_says_the_jobs_and_the_cap_run_here() -> None:
    from shopstream.cli.serve import jobs_banner
    from shopstream.privacy.retention import RetentionConfig

    line = jobs_banner(False, 1, "f.db", RetentionConfig(store_days=3))
    assert line.startswith("scheduled jobs: run here")
    assert line.endswith("store values live at most 3 day(s)")
    assert "not run (--no-jobs)" in jobs_banner(True, 1, "f.db", None)


def test_serve_with_workers_says_no_scheduler_and_jobs_beside_it_works(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "f.db"
    events = tmp_path / "events.jsonl"
    _write(events, [e | {"userId": f"u{i % 3}"} for i, e in enumerate(_events() * 3)])
    assert main(["run", "--input", str(events), "--output-dir", str(tmp_path / "out"),
                 "--store", str(db)]) == 0
    with cli_server(["serve", "--store", str(db), "--workers", "2", "--retention-config",
                     str(_retention_file(tmp_path))]) as server:
        client = server.client
        assert server.process.stdout is not None
        banner = [server.process.stdout.readline(), server.process.stdout.readline()]
        assert "2 worker(s)" in banner[0], banner
        assert "scheduled jobs: NOT run with --workers 2" in banner[1], banner
        assert f"shopstream jobs --store {db}" in banner[1]
        assert "--retention-config: no store cap here" in banner[1]
        assert client.get("/users/u1/recommendations").status_code == 404
        status = {j["name"]: j for j in client.get("/jobs").json()["jobs"]}
        assert status["daily-recommendations"]["lastRun"] is None
        capsys.readouterr()
        # `shopstream jobs` beside the workers, on the same store
        assert main(["jobs", "run", "daily-recommendations", "--store", str(db),
                     "--events", str(events)]) == 0
        record = json.loads(capsys.readouterr().out)
        assert record["outcome"] == "ok" and record["counts"]["shoppers"] == 3
        for _ in range(4):  # whichever worker answers
            answer = client.get("/users/u1/recommendations")
            assert answer.status_code == 200 and answer.json()["job"] == "daily"
            status = {j["name"]: j for j in client.get("/jobs").json()["jobs"]}
            assert status["daily-recommendations"]["lastRun"]["outcome"] == "ok"
