"""The input limits are configurable at every HTTP door (issue 18): ``serve`` and ``collect``
take ``run``'s ``--max-*`` options, and the limits reach their decoders (``POST /events``
and the Snowplow collector of ``serve``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.events.limits import YEAR_2000_MS, InputLimits

TP2 = "/com.snowplowanalytics.snowplow/tp2"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shopstream.cli", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", ["serve", "collect"])
def test_serve_and_collect_take_runs_limit_and_rate_options(command: str) -> None:
    shown = _cli(command, "--help").stdout
    for option in ("--max-line-bytes", "--max-depth", "--max-items", "--max-id-length",
                   "--max-price", "--max-quantity", "--max-cart-total", "--min-time",
                   "--max-ahead-hours", "--rate-limit", "--rate-burst", "--rate-buckets"):
        assert option in shown, (command, option)


@pytest.mark.parametrize("command", ["serve", "collect"])
def test_a_bad_limit_is_one_clear_line(tmp_path: Path, command: str) -> None:
    done = _cli(command, "--store", str(tmp_path / "f.db"), "--port", "0",
                "--max-items", "0")
    assert done.returncode != 0
    assert "max_items must be an int >= 1, got 0" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_serve_limits_reach_post_events_and_the_collector(tmp_path: Path) -> None:
    limits = InputLimits(max_items=5, max_id_length=30, min_timestamp_ms=YEAR_2000_MS)
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          input_limits=limits))
    server.start()
    now = int(time.time() * 1000) - 1_000
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            items = [{"productId": f"p{i}", "price": 1.0} for i in range(6)]
            big = http.post("/events", json={"eventType": "PURCHASE", "sessionId": "s",
                                             "timestamp": now, "items": items})
            assert big.status_code == 400
            assert "max_items=5" in big.json()["errors"][0]["reason"]
            ok = http.post("/events", json={"eventType": "PURCHASE", "sessionId": "s",
                                            "timestamp": now, "items": items[:5]})
            assert ok.status_code == 202
            pixel = {"e": "pv", "sid": "s" * 31, "dtm": str(now)}
            answer = http.get("/i", params=pixel)
            assert answer.status_code == 400
            assert "max_id_length=30" in json.dumps(answer.json())
            assert http.get("/i", params=pixel | {"sid": "s"}).status_code == 200
    finally:
        server.stop()


def test_limits_and_rate_survive_the_trip_to_serve_workers(tmp_path: Path) -> None:
    from dataclasses import asdict

    config = ServeConfig(store=str(tmp_path / "f.db"), workers=2, rate_limit_per_s=50.0,
                         rate_burst=80, input_limits=InputLimits(max_items=7))
    again = ServeConfig(**json.loads(json.dumps(asdict(config))))
    assert again == config
    assert again.input_limits.max_items == 7 and again.live.input_limits.max_items == 7
    rate = again.rate_limit
    assert rate is not None and (rate.rate_per_s, rate.capacity) == (50.0, 80)
