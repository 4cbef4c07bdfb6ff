"""The events the hosted pipeline's engine holds until the watermark passes them are
bounded (``LiveConfig.max_buffered``, ``--max-buffered-events``): at a high rate the
engine would hold every event of the last out-of-orderness bound, as many as the rate
brings; beyond the bound the server refuses (503) until the watermark moves on."""

from __future__ import annotations

import json
import time

import pytest

from shopstream.api.live import LiveConfig, LivePipeline, QueueFullError
from shopstream.errors import ConfigError

T0 = 1_699_999_980_000


def _raw(ts: int) -> bytes:
    return json.dumps({"eventType": "PAGE_VIEW", "sessionId": f"s{ts % 3}",
                       "timestamp": ts, "pageUrl": "/"}).encode()


def _settle(live: LivePipeline) -> None:
    deadline = time.monotonic() + 10
    while live.waiting:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_held_events_are_bounded_and_the_bound_lifts_when_the_watermark_moves() -> None:
    live = LivePipeline(None, LiveConfig(max_queue=10, max_buffered=20, idle_ms=100,
                                         out_of_orderness_ms=3_000, retry_after_s=2))
    live.start()
    try:
        # 30 events within one bound (30 ms of event time): the engine holds all of them.
        for batch in range(3):
            assert live.submit([_raw(T0 + 10 * batch + i) for i in range(10)]) == 10
            _settle(live)
        assert live.buffered == 30 and live.status()["eventsBuffered"] == 30
        with pytest.raises(QueueFullError, match="holds 30 events until the watermark "
                                                 "passes them and 0 wait") as info:
            live.submit([_raw(T0 + 31)])
        assert info.value.retry_after_s == 2
        assert live.refused == 1
        assert "shopstream_events_buffered 30\n" in live.metrics_text()
        assert "shopstream_events_buffered_max 20\n" in live.metrics_text()
        # Silence: the watermark follows the clock, releases them, and the door reopens.
        deadline = time.monotonic() + 10
        while live.buffered:
            assert time.monotonic() < deadline, live.buffered
            time.sleep(0.02)
        assert live.submit([_raw(T0 + 40)]) == 1
        _settle(live)
        assert live.processed == 31
    finally:
        live.stop()


def test_max_buffered_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_buffered must be > 0, got 0"):
        LiveConfig(max_buffered=0)
