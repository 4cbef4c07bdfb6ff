"""The webhook tap against a real HTTP server on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import ev, jsonl

from shopstream.cli import main
from shopstream.connectors.webhook import WebhookConfig, WebhookTap
from shopstream.events import Output, streams
from shopstream.events.insights import FraudAlert
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

pytestmark = pytest.mark.integration


class AlertServer(ThreadingHTTPServer):
    """Answers ``fail_first`` POSTs with ``status``, then 200; records every attempt."""

    def __init__(self, fail_first: int, status: int = 500) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.status = status
        self.attempts: list[tuple[float, dict[str, Any], dict[str, str]]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"

    def times(self) -> list[float]:
        with self.lock:
            return [t for t, _, _ in self.attempts]


class _Handler(BaseHTTPRequestHandler):
    server: AlertServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.attempts.append((time.monotonic(), body, dict(self.headers)))
            n = len(self.server.attempts)
        self.server.release.wait(10)
        status = self.server.status if n <= self.server.fail_first else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[AlertServer] = []

    def start(fail_first: int, status: int = 500) -> AlertServer:
        server = AlertServer(fail_first, status)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def alert(n: int) -> Output:
    record = FraudAlert("HIGH_VALUE", f"u{n}", (f"o{n}",), (1_500.0,), (n,), "MEDIUM", n, "x")
    return Output(streams.FRAUD_ALERTS, f"u{n}", record)


def test_retries_with_growing_delays_while_the_pipeline_keeps_flowing(
        serve: Any, tmp_path: Path) -> None:
    server = serve(fail_first=3)
    tap = WebhookTap(WebhookConfig(server.url, base_delay_s=0.1, max_delay_s=5.0, jitter=0.0,
                                   max_attempts=5))
    # A high-value order first, then enough traffic to push the watermark past it.
    events = [ev("PURCHASE", 0, "buyer", user_id="mallory", order_id="O-1", cart_total=2_500.0)]
    events += [ev("VIEW_PRODUCT", 10 + i * 10, f"s{i % 50}", product_id=f"p{i % 7}")
               for i in range(3_000)]
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(events))
    lines = src.read_bytes().splitlines(keepends=True)
    source_done: list[float] = []

    def source() -> Iterator[tuple[bytes, int]]:
        offset = 0
        for line in lines:
            offset += len(line)
            yield line.rstrip(b"\n"), offset
        source_done.append(time.monotonic())

    # Without the recommender (a GIL-heavy stage) the sender's timing is what is measured.
    topology = default_topology(PipelineConfig(recommendations=None))
    summary = EmbeddedRunner(topology, tmp_path / "out", taps=[tap]).run(
        src, source=source())
    assert summary.outputs[streams.FRAUD_ALERTS] == 1
    times = server.times()
    assert len(times) == 4                       # 3 failures, then delivered
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    # Every event had been read and processed while the sender was still backing off.
    assert source_done[0] < times[-1] - 0.3
    assert tap.stats() == tap.stats().__class__(delivered=1, failed=0, dropped=0, retries=3)
    _, body, headers = server.attempts[-1]
    assert body["rule"] == "HIGH_VALUE" and body["orderIds"] == ["O-1"]
    assert body["userId"] == "mallory" and body["severity"] == "HIGH"
    assert headers["X-Shopstream-Stream"] == "fraud-alerts"
    assert headers["X-Shopstream-Key"] == "mallory"
    assert headers["Content-Type"] == "application/json"


def test_gives_up_after_max_attempts_counts_and_logs(serve: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    server = serve(fail_first=100)
    tap = WebhookTap(WebhookConfig(server.url, base_delay_s=0.01, max_attempts=3))
    with caplog.at_level(logging.INFO, logger="shopstream.connectors.webhook"):
        tap.write(alert(1))
        tap.close()
    assert len(server.attempts) == 3
    assert tap.stats().failed == 1 and tap.stats().retries == 2
    assert "giving up" in caplog.text and "HTTP 500 after 3 attempt(s)" in caplog.text
    assert "retrying in" in caplog.text


def test_a_client_error_is_not_retried(serve: Any) -> None:
    server = serve(fail_first=100, status=400)
    tap = WebhookTap(WebhookConfig(server.url, base_delay_s=0.01))
    tap.write(alert(1))
    tap.close()
    assert len(server.attempts) == 1 and tap.stats().failed == 1


def test_a_refused_connection_is_retried(serve: Any) -> None:
    server = serve(fail_first=0)
    url = server.url
    server.shutdown()
    server.server_close()
    tap = WebhookTap(WebhookConfig(url, base_delay_s=0.01, max_attempts=2, timeout_s=1.0))
    tap.write(alert(1))
    tap.close()
    assert tap.stats().failed == 1 and tap.stats().retries == 1


def test_a_full_queue_drops_counts_and_logs_without_blocking(
        serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    server = serve(fail_first=0)
    server.release.clear()                       # hold the first request in flight
    tap = WebhookTap(WebhookConfig(server.url, queue_size=1))
    tap.write(alert(0))
    deadline = time.monotonic() + 5
    while not server.attempts and time.monotonic() < deadline:
        time.sleep(0.005)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="shopstream.connectors.webhook"):
        for n in range(1, 4):
            tap.write(alert(n))
    assert time.monotonic() - start < 0.1
    server.release.set()
    tap.close()
    assert tap.stats() == tap.stats().__class__(delivered=2, failed=0, dropped=2, retries=0)
    assert "webhook queue full" in caplog.text


def test_close_gives_up_after_its_timeout(serve: Any) -> None:
    server = serve(fail_first=100)
    tap = WebhookTap(WebhookConfig(server.url, base_delay_s=30.0, close_timeout_s=0.3))
    tap.write(alert(1))
    tap.write(alert(2))
    start = time.monotonic()
    tap.close()
    assert time.monotonic() - start < 2.0
    assert tap.stats().failed == 2 and tap.stats().delivered == 0


def test_shopstream_run_with_webhook_url_sends_the_fraud_alerts(
        serve: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = serve(fail_first=1)
    data = Path(__file__).parents[1] / "golden" / "data" / "fraud" / "input.jsonl"
    code = main(["run", "--input", str(data), "--output-dir", str(tmp_path), "--no-progress",
                 "--webhook-url", server.url])
    out = capsys.readouterr().out
    assert code == 0
    port = server.server_address[1]  # the path of a webhook's URL is not shown
    summary = f"webhook http://127.0.0.1:{port}/...: 6 delivered, 0 failed, 0 dropped, 1 retries"
    assert summary in out
    sent = sorted((b["userId"], b["detectedAt"]) for _, b, _ in server.attempts[1:])
    written = [json.loads(line)
               for line in (tmp_path / "fraud-alerts.jsonl").read_text().splitlines()]
    assert sent == sorted((a["userId"], a["detectedAt"]) for a in written)
