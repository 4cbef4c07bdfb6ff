"""A broker outage longer than ``run --kafka --kafka-outage-timeout`` stops the run with
one clear line, before the checkpoint that would cover the outputs the broker never
acknowledged; ``--resume`` once the broker is back replays them and loses nothing.

The broker's address is a ``tansu proxy`` in front of the tansu broker (see
``test_outages``), stopped and restarted on the same port.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_outages import TansuEndpoint, _cli, _simulate

pytestmark = pytest.mark.integration


def test_an_outage_longer_than_the_timeout_stops_the_run_resumably(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    from test_kafka import produce

    from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics

    events = _simulate(tmp_path / "in.jsonl", 3_000)
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    ensure_topics(KafkaConfig(kafka_bootstrap, partitions=1), ["ecommerce-events"])
    produce(kafka_bootstrap, lines)
    endpoint = TansuEndpoint(kafka_bootstrap)
    endpoint.start()
    args = ("run", "--kafka", endpoint.bootstrap, "--input-topics", "ecommerce-events",
            "--partitions", "1", "--output-dir", str(tmp_path / "out"),
            "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.2",
            "--no-recommendations", "--no-progress", "--json", "--stop-when-idle", "3",
            "--kafka-outage-timeout", "3")
    run = _cli(*args)
    try:
        out = tmp_path / "out" / "basket-completions.jsonl"
        deadline = time.monotonic() + 60
        while not (out.exists() and out.stat().st_size > 0):  # outputs go to the topics
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run wrote nothing"
            time.sleep(0.01)
        endpoint.kill()
        gone = time.monotonic()
        _, stderr = run.communicate(timeout=60)
        stopped_after = time.monotonic() - gone
    finally:
        endpoint.kill()
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 1, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("shopstream run: error:")]
    assert len(errors) == 1 and endpoint.bootstrap in errors[0], stderr[-3000:]
    assert "Traceback" not in stderr and stopped_after < 30, (stopped_after, stderr[-3000:])
    endpoint.start()
    try:
        resumed = _cli(*args, "--resume")
        stdout, stderr = resumed.communicate(timeout=120)
    finally:
        endpoint.kill()
    assert resumed.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    assert (summary["lines"], summary["late_events"]) == (len(lines), 0), stderr[-3000:]
