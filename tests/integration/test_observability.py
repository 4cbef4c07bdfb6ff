"""``/metrics`` and ``/health`` on every long-running command, against real servers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest
from helpers import free_port

from shopstream.cli import main

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]
_PAGE_VIEW = '{"eventType":"PAGE_VIEW","sessionId":"s%d","timestamp":%d}\n'


def _cli(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "shopstream.cli", *args], text=True,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONPATH": str(_ROOT)})


def _metrics_url(proc: subprocess.Popen[str]) -> str:
    """The metrics address a ``run`` prints on stderr at start."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"metrics at (http://[\d.]+:\d+)/metrics", line)
        if found:
            return found.group(1)
        assert line or proc.poll() is None, proc.communicate()
    pytest.fail("no metrics address printed")


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _wait_for(url: str, predicate: object, timeout_s: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    samples: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url + "/metrics", timeout=5)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = _samples(answer.text)
        if predicate(samples):  # type: ignore[operator]
            return samples
        time.sleep(0.2)
    pytest.fail(f"metrics never matched: {samples}")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    return stdout


def test_run_over_a_file_serves_metrics_while_it_reads(tmp_path: Path) -> None:
    run = _cli("run", "--input", "-", "--output-dir", str(tmp_path / "out"), "--no-progress",
               "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-every", "1",
               "--metrics-port", "0", stdin=subprocess.PIPE)
    url = _metrics_url(run)
    stdin: IO[str] = run.stdin  # type: ignore[assignment]
    now_ms = int(time.time() * 1000)
    for i in range(300):
        stdin.write(_PAGE_VIEW % (i, now_ms + i))
    stdin.write("not json\n")
    stdin.flush()
    # Standard input is read as it comes: the counts move before the input ends.
    samples = _wait_for(url, lambda s: s.get("shopstream_events_in_total", 0) >= 301)
    assert samples['shopstream_dead_letters_total{stage="decode"}'] == 1
    assert 0 <= samples["shopstream_watermark_lag_seconds"] < 600
    assert samples["shopstream_checkpoints_total"] >= 1
    assert samples["shopstream_checkpoint_age_seconds"] >= 0
    health = httpx.get(url + "/health", timeout=5).json()
    assert health["status"] == "ok" and health["command"] == "run"
    assert health["deadLetters"] == 1
    run.communicate(timeout=60)  # closes standard input: the run ends
    assert run.returncode == 0


def test_run_kafka_serves_consumer_lag(kafka_bootstrap: str, tmp_path: Path) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    now_ms = int(time.time() * 1000)
    run = _cli("run", "--kafka", kafka_bootstrap, "--output-dir", str(tmp_path / "out"),
               "--no-progress", "--checkpoint-dir", str(tmp_path / "ck"),
               "--checkpoint-seconds", "0.5")
    url = _metrics_url(run)  # on a free port without --metrics-port
    for i in range(200):
        producer.produce("ecommerce-events", (_PAGE_VIEW % (i, now_ms + i)).encode())
    assert producer.flush(15) == 0
    samples = _wait_for(url, lambda s: s.get("shopstream_events_in_total", 0) >= 200
                        and s.get("shopstream_checkpoints_total", 0) >= 1)
    lags = {k: v for k, v in samples.items() if k.startswith("shopstream_kafka_consumer_lag{")}
    assert lags, samples  # one sample per assigned partition
    assert all(v >= 0 for v in lags.values())
    assert 'topic="ecommerce-events"' in " ".join(lags)
    health = httpx.get(url + "/health", timeout=5).json()
    assert health["status"] == "ok" and health["kafka"] == kafka_bootstrap
    _stop(run)
    assert run.returncode == 0


def test_run_postgres_serves_metrics_and_health(shop_dsn: str, tmp_path: Path) -> None:
    assert main(["db", "init", "--dsn", shop_dsn]) == 0
    port = free_port()
    run = _cli("run", "--postgres", shop_dsn, "--slot", "metrics", "--output-dir",
               str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path / "ck"),
               "--metrics-port", str(port))
    url = _metrics_url(run)
    assert url.endswith(f":{port}")
    samples = _wait_for(url, lambda s: "shopstream_events_in_total" in s)
    assert samples["shopstream_pipeline_errors_total"] == 0
    health = httpx.get(url + "/health", timeout=5).json()
    assert health["status"] == "ok" and health["postgres"].startswith("postgresql://")
    _stop(run)


def test_collect_serves_metrics_and_health(tmp_path: Path) -> None:
    port = free_port()
    collect = _cli("collect", "--store", str(tmp_path / "f.db"), "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, lambda s: "shopstream_events_in_total" in s, timeout_s=120)
        now_ms = int(time.time() * 1000)
        assert httpx.post(url + "/events", content=_PAGE_VIEW % (1, now_ms),
                          headers={"content-type": "application/json"}).status_code == 202
        assert httpx.post(url + "/events", content=b'{"eventType":"NOPE"}',
                          headers={"content-type": "application/json"}).status_code == 400
        samples = _wait_for(url, lambda s: s.get("shopstream_events_in_total", 0) >= 2)
        assert samples['shopstream_dead_letters_total{stage="decode"}'] == 1
        assert samples["shopstream_store_errors_total"] == 0
        health = httpx.get(url + "/health", timeout=5).json()
        assert health["status"] == "ok" and health["command"] == "collect"
        assert health["store"]["url"] == str(tmp_path / "f.db")
    finally:
        _stop(collect)


def test_serve_metrics_and_health_show_store_writes_and_no_password(
        tmp_path: Path) -> None:
    from test_outages import RedisServer

    redis = RedisServer(free_port(), tmp_path, password="s3cret-pw")
    redis.start()
    port = free_port()
    serve = _cli("serve", "--store", f"redis://:s3cret-pw@127.0.0.1:{redis.port}/0",
                 "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, lambda s: "shopstream_store_errors_total" in s, timeout_s=120)
        now_ms = int(time.time() * 1000)
        assert httpx.post(url + "/events", content=_PAGE_VIEW % (1, now_ms),
                          headers={"content-type": "application/json"}).status_code == 202
        samples = _wait_for(url, lambda s: s.get("shopstream_events_processed_total", 0) >= 1)
        assert "shopstream_watermark_lag_seconds" in samples
        assert samples["shopstream_store_waiting_values"] == 0
        health = httpx.get(url + "/health", timeout=5)
        assert health.status_code == 200
        body = health.json()
        assert body["store"] == f"redis://:***@127.0.0.1:{redis.port}/0"
        assert body["storeWrites"] == {"errors": 0, "retries": 0, "waiting": 0}
        assert "s3cret" not in health.text
        assert "s3cret" not in httpx.get(url + "/metrics").text
    finally:
        _stop(serve)
        redis.stop()


def test_metrics_answers_are_json_and_text(tmp_path: Path) -> None:
    """The standard-library server of run answers 404 elsewhere."""
    run = _cli("run", "--input", "-", "--output-dir", str(tmp_path / "out"), "--no-progress",
               "--metrics-port", "0", stdin=subprocess.PIPE)
    url = _metrics_url(run)
    try:
        assert httpx.get(url + "/nope", timeout=5).status_code == 404
        assert json.loads(httpx.get(url + "/health", timeout=5).text)["status"] == "ok"
    finally:
        run.communicate(timeout=60)
