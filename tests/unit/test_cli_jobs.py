"""``shopstream jobs list`` and ``shopstream jobs run NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopstream.cli import main
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore


def _events(path: Path) -> None:
    lines = [{"eventType": "VIEW_PRODUCT", "timestamp": 1_790_000_000_000 + i,
              "sessionId": f"s{i // 2}", "userId": f"u{i // 4}", "productId": f"p{i % 3}"}
             for i in range(40)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_list_shows_every_job_with_its_schedule(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "list", "--store", str(tmp_path / "f.db")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["JOB", "SCHEDULE", "NEXT"]
    assert [line.split()[0] for line in out[1:]] == [
        "hot-recommendations", "daily-recommendations", "weekly-retrain",
        "retention-cleanup"]
    assert "*/15 * * * *" in out[1] and out[1].split()[-3:] == ["never", "0", "0"]


def test_run_once_records_the_run_and_list_shows_it(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "f.db"
    events = tmp_path / "events.jsonl"
    _events(events)
    store = SqliteStore(db)
    store.write_batch([StoreEntry("user:u1:product_view_count_1hr", 2, 600.0)])
    store.close()
    config = tmp_path / "jobs.toml"
    config.write_text('[schedules.weekly-retrain]\ncron = "0 5 * * sat"\n')
    assert main(["jobs", "run", "hot-recommendations", "--store", str(db), "--events",
                 str(events), "--jobs-config", str(config)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["outcome"] == "ok" and record["trigger"] == "manual"
    assert record["counts"]["shoppers"] == 1 and record["counts"]["trained_first"] == 1
    store = SqliteStore(db)
    assert store.get("recs:user:u1")["job"] == "hot"
    store.close()
    assert main(["jobs", "list", "--store", str(db), "--jobs-config", str(config),
                 "--json"]) == 0
    status = {j["name"]: j for j in json.loads(capsys.readouterr().out)}
    assert status["hot-recommendations"]["lastRun"]["outcome"] == "ok"
    assert status["weekly-retrain"]["cron"] == "0 5 * * sat"


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "run", "nightly", "--store", str(tmp_path / "f.db")]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "no job named 'nightly'; jobs are hot-recommendations, daily-recommendations, "
        "weekly-retrain, retention-cleanup")
    assert main(["jobs", "list"]) == 1
    assert "--store is required" in capsys.readouterr().err
    # A job that cannot run as configured fails at once (no retry) with the reason.
    assert main(["jobs", "run", "weekly-retrain", "--store", str(tmp_path / "f.db")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("shopstream jobs: weekly-retrain failed: JobSetupError: "
                          "weekly-retrain: no history to learn from")
