"""RunObserver (what /metrics and /health of run and collect say) and the metrics server."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

from shopstream.api.metrics_server import MetricsServer, ObservedApp
from shopstream.api.run_metrics import RunObserver
from shopstream.errors import ConfigError
from shopstream.events.records import DeadLetter, Output
from shopstream.stores.embedded import SqliteStore


@dataclass
class FakeEngine:
    watermark_ms: int = 990_000
    max_timestamp_ms: int = 995_000
    late_events: int = 2
    output_counts: dict[str, int] = field(default_factory=lambda: {"basket-completions": 4})


def samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_read_the_engine_the_source_and_the_dead_letters() -> None:
    clock = [10.0]
    observer = RunObserver("run", engine=FakeEngine, lag=lambda: {("t", 1): 7, ("t", 0): 0},
                           events_in=lambda: 42, clock=lambda: clock[0],
                           wall_clock=lambda: 1_000.0)
    for stage in ("decode", "decode", "limit"):
        observer.write(Output("dead-letter", "in", DeadLetter(stage, "why", "x", "in", 1)))
    observer.flush()
    clock[0] = 12.5
    got = samples(observer.metrics())
    assert got["shopstream_events_in_total"] == 42
    assert got['shopstream_events_out_total{stream="basket-completions"}'] == 4
    assert got['shopstream_dead_letters_total{stage="decode"}'] == 2
    assert got['shopstream_dead_letters_total{stage="limit"}'] == 1
    assert got["shopstream_late_events_total"] == 2
    assert got["shopstream_watermark_lag_seconds"] == 10.0
    assert got["shopstream_event_lag_seconds"] == 5.0
    assert got["shopstream_checkpoint_age_seconds"] == 2.5
    assert got['shopstream_kafka_consumer_lag{topic="t",partition="1"}'] == 7
    assert "shopstream_store_errors_total" not in got  # no store, no store families


def test_a_failing_lag_probe_leaves_the_rest_of_the_metrics() -> None:
    def broken() -> dict[tuple[str, int], int]:
        raise RuntimeError("consumer closed")

    got = samples(RunObserver("run", lag=broken).metrics())
    assert "shopstream_events_in_total" in got
    assert not any(k.startswith("shopstream_kafka_consumer_lag{") for k in got)


def test_health_hides_passwords_and_reports_a_failing_store(tmp_path: Any) -> None:
    store = SqliteStore(tmp_path / "f.db")
    store.url = "redis://:s3cret@cache:6379/0"
    observer = RunObserver("run", store=store, urls={"kafka": "sasl://u:pw@broker:9092"})
    assert observer.health()["status"] == "ok"
    store.stats.waiting, store.stats.errors = 12, 3
    body = observer.health()
    assert body["status"] == "store unavailable"
    assert body["store"] == {"url": "redis://:***@cache:6379/0", "errors": 3, "waiting": 12,
                             "retries": 0}
    assert "s3cret" not in json.dumps(body) and "pw@" not in json.dumps(body)
    assert samples(observer.metrics())["shopstream_store_waiting_values"] == 12
    store.close()


def test_server_answers_503_when_unhealthy_and_404_elsewhere() -> None:
    server = MetricsServer("127.0.0.1", 0, lambda: "", lambda: {"status": "store unavailable"})
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as unhealthy:
            urllib.request.urlopen(server.url + "/health")
        assert unhealthy.value.code == 503
        unhealthy.value.close()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "/nope")
        assert missing.value.code == 404
        missing.value.close()
    finally:
        server.stop()


def test_a_busy_port_is_a_config_error() -> None:
    server = MetricsServer("127.0.0.1", 0, lambda: "", lambda: {"status": "ok"})
    try:
        with pytest.raises(ConfigError, match="--metrics-port: cannot listen on"):
            MetricsServer("127.0.0.1", server.port, lambda: "", lambda: {})
    finally:
        server.stop()


def test_observed_app_answers_its_paths_and_passes_the_rest() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    observed = ObservedApp(app, lambda: "m 1\n", lambda: {"status": "ok"})

    async def call(path: str) -> None:
        await observed({"type": "http", "method": "GET", "path": path}, None, send)

    asyncio.run(call("/metrics"))
    asyncio.run(call("/events"))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"m 1\n"
    assert seen == ["/events"]
