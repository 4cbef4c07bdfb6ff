"""Hostile input through the HTTP doors (issue 18): ``POST /events`` and the Snowplow
collector answer 4xx with the reason, never 5xx, and no valid event is made late."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from hostile import HOSTILE, line

from shopstream.api.server import BackgroundServer, ServeConfig


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    store = tmp_path_factory.mktemp("api") / "features.db"
    # No disorder allowed and no idle advance: only events move the watermark, so any
    # hostile event let in ahead of the valid ones would make the next valid one late.
    running = BackgroundServer(ServeConfig(store=str(store), port=0, out_of_orderness_ms=0,
                                           idle_ms=600_000))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


_START_MS = int(time.time() * 1000) - 600_000
_CLOCK = iter(range(_START_MS, _START_MS + 10**9, 10))


def _now_ms() -> int:
    """Stream time of the valid events: ten minutes ago, 10 ms further at each call."""
    return next(_CLOCK)


@pytest.mark.parametrize("name", HOSTILE)
def test_post_events_refuses_each_kind_with_a_4xx(client: httpx.Client, name: str) -> None:
    ts = _now_ms()
    # The live server has no replay progress: "ahead of the stream" is ahead of the clock.
    raw = HOSTILE[name](ts + 86_400_000 if "ahead of the stream" in name
                        or "a day ahead, as ISO" in name else ts)
    answer = client.post("/events", content=raw,
                         headers={"Content-Type": "application/json"})
    if name == "array":  # an empty batch, not an event
        assert (answer.status_code, answer.json()) == (202, {"accepted": 0})
    else:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    valid = client.post("/events", content=line(eventType="PAGE_VIEW", sessionId="ok",
                                                timestamp=_now_ms()),
                        headers={"Content-Type": "application/json"})
    assert valid.status_code == 202, valid.text


def test_no_valid_event_was_made_late(server: BackgroundServer, client: httpx.Client) -> None:
    for _ in range(5):
        answer = client.post("/events", content=line(eventType="PAGE_VIEW", sessionId="late?",
                                                     timestamp=_now_ms()),
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 202
    live = server.state.live
    assert live is not None
    deadline = time.monotonic() + 5
    while live.waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.engine.late_events == 0


@pytest.mark.parametrize("dtm", ["\u00b2", "9" * 5000, "1" * 30, "-5", "1e3", "", "5",
                                 "253402300799000"])
def test_snowplow_pixel_with_a_bad_timestamp_is_a_4xx(client: httpx.Client, dtm: str) -> None:
    answer = client.get("/i", params={"e": "pv", "sid": "s", "dtm": dtm})
    assert 400 <= answer.status_code < 500, answer.text


def test_snowplow_with_deep_json_is_no_5xx(client: httpx.Client) -> None:
    body = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",' \
           b'"data":' + b"[" * 5000 + b"]" * 5000 + b"}"
    answer = client.post("/com.snowplowanalytics.snowplow/tp2", content=body,
                         headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    context = '{"schema":"x","data":' + "[" * 5000 + "]" * 5000 + "}"
    pixel = client.get("/i", params={"e": "pv", "sid": "s", "dtm": str(_now_ms()),
                                     "co": context})
    assert pixel.status_code < 500, pixel.text
