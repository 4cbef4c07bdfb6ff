"""``eventsProcessed`` (``/health``) and ``shopstream_events_processed_total``
(``/metrics``) count the events the operators processed, not those the engine still holds
until the watermark passes them (``eventsBuffered``), against uvicorn on a free port."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from shopstream.api.server import BackgroundServer, ServeConfig


def _events(n: int, ts: int) -> list[dict[str, object]]:
    return [{"eventType": "PAGE_VIEW", "sessionId": f"s{i}", "userId": f"u{i}",
             "timestamp": ts + i, "pageUrl": "/"} for i in range(n)]


def _health(server: BackgroundServer) -> dict[str, object]:
    pipeline: dict[str, object] = httpx.get(server.url + "/health").json()["pipeline"]
    return pipeline


def test_held_events_are_not_counted_as_processed(tmp_path: Path) -> None:
    # A bound of a minute: events stamped now stay held, idle or not.
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          out_of_orderness_ms=60_000, idle_ms=100))
    server.start()
    try:
        now_ms = int(time.time() * 1000)
        assert httpx.post(server.url + "/events", json=_events(5, now_ms)).status_code == 202
        deadline = time.monotonic() + 10
        while _health(server)["eventsBuffered"] != 5:
            assert time.monotonic() < deadline, _health(server)
            time.sleep(0.02)
        pipeline = _health(server)
        assert (pipeline["eventsAccepted"], pipeline["eventsProcessed"]) == (5, 0)
        metrics = httpx.get(server.url + "/metrics").text
        assert "shopstream_events_processed_total 0\n" in metrics
        assert "shopstream_events_buffered 5\n" in metrics
    finally:
        server.stop()


def test_released_events_are_counted_as_processed(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          out_of_orderness_ms=0, idle_ms=50))
    server.start()
    try:
        past_ms = int(time.time() * 1000) - 60_000
        assert httpx.post(server.url + "/events", json=_events(4, past_ms)).status_code == 202
        deadline = time.monotonic() + 10
        while _health(server)["eventsProcessed"] != 4:
            assert time.monotonic() < deadline, _health(server)
            time.sleep(0.02)
        assert _health(server)["eventsBuffered"] == 0
    finally:
        server.stop()
