"""``GET /jobs`` through the real app on uvicorn, with the jobs started by the same hook
``shopstream serve`` uses (beside the hosted pipeline), and ``shopstream serve`` itself in
a subprocess running its scheduler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from helpers import free_port

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.jobs.config import JOB_NAMES
from shopstream.jobs.service import JobsService
from shopstream.stores.base import StoreEntry


def _until(probe: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def _write_events(path: Path, users: int = 30) -> None:
    lines = []
    t0 = 1_790_000_000_000
    for u in range(users):
        for visit in range(3):
            ts = t0 + (u * 3 + visit) * 86_400_000 // 10
            session = f"s{u}-{visit}"
            for offset, product in enumerate((f"p{u % 5}", f"p{u % 5 + 5}")):
                lines.append({"eventType": "VIEW_PRODUCT", "timestamp": ts + offset,
                              "sessionId": session, "userId": f"u{u}",
                              "productId": product})
            lines.append({"eventType": "PURCHASE", "timestamp": ts + 9, "sessionId": session,
                          "userId": f"u{u}", "cartTotal": 20.0 + u,
                          "items": [{"productId": f"p{u % 5}", "price": 20.0 + u}]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_get_jobs_shows_schedules_runs_and_failures(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _write_events(events)
    config_file = tmp_path / "jobs.toml"
    config_file.write_text(f'events = "{events}"\n'
                           '[schedules.hot-recommendations]\ncron = "*/5 * * * *"\n'
                           '[schedules.retention-cleanup]\ntries = 1\n')
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "features.db"), port=0,
                                          out_of_orderness_ms=0, idle_ms=20))
    server.start()
    from shopstream.jobs import load_jobs_config

    service = JobsService(server.state.store, load_jobs_config(config_file),
                          live=server.state.live)
    service.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            before = http.get("/jobs").json()["jobs"]
            assert [j["name"] for j in before] == list(JOB_NAMES)
            hot = before[0]
            assert (hot["cron"], hot["scheduled"], hot["lastRun"]) == ("*/5 * * * *", True,
                                                                       None)
            assert hot["nextRun"] is not None
            server.state.store.write_batch([StoreEntry("user:u3:product_view_count_1hr",
                                                       4, 600.0)])
            assert service.scheduler is not None
            service.scheduler.run_soon("weekly-retrain")
            assert _until(lambda: http.get("/jobs/weekly-retrain").json()["lastRun"])
            service.scheduler.run_soon("hot-recommendations")
            assert _until(lambda: http.get("/jobs/hot-recommendations").json()["lastRun"])
            # A failing run: the lake folder is a file, so the cleanup cannot list it.
            service.runner.jobs["retention-cleanup"] = _broken
            service.scheduler.run_soon("retention-cleanup")
            assert _until(lambda: http.get("/jobs/retention-cleanup").json()["lastRun"])
            jobs = {j["name"]: j for j in http.get("/jobs").json()["jobs"]}
            retrain = http.get("/jobs/weekly-retrain?limit=5").json()
            recs = server.state.store.get("recs:user:u3")
    finally:
        service.stop()
        server.stop()
    run = jobs["weekly-retrain"]["lastRun"]
    assert run["outcome"] == "ok" and run["trigger"] == "schedule"
    assert run["counts"]["shoppers"] == 30 and run["counts"]["published_lists"] > 0
    assert run["endedMs"] >= run["startedMs"]
    assert [r["outcome"] for r in retrain["recentRuns"]] == ["ok"]
    assert jobs["hot-recommendations"]["lastRun"]["counts"]["shoppers"] == 1
    cleanup = jobs["retention-cleanup"]
    assert cleanup["lastRun"]["outcome"] == "failed"
    assert cleanup["lastFailure"]["error"] == "OSError: disk on fire"
    assert (cleanup["failures"], cleanup["consecutiveFailures"]) == (1, 1)
    assert jobs["daily-recommendations"]["lastRun"] is None
    assert recs["job"] == "hot" and recs["products"]


def _broken(now_ms: int) -> dict[str, int]:
    raise OSError("disk on fire")


def test_shopstream_serve_runs_the_scheduler(tmp_path: Path) -> None:
    port = free_port()
    store = tmp_path / "features.db"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "shopstream.cli", "serve", "--store",
                                 str(store), "--port", str(port)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        def jobs() -> Any:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/jobs", timeout=2)
            except httpx.HTTPError:
                return None
            body = answer.json()["jobs"]
            return body if all(j["scheduled"] for j in body) else None

        found = _until(jobs, 30)
        assert found, output.read_text()
        assert [(j["name"], j["cron"]) for j in found] == [
            ("hot-recommendations", "*/15 * * * *"), ("daily-recommendations", "30 2 * * *"),
            ("weekly-retrain", "0 3 * * sun"), ("retention-cleanup", "0 4 * * *")]
    finally:
        proc.terminate()
        proc.wait(20)
    assert (tmp_path / "features.jobs.sqlite").exists()
