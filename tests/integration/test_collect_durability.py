"""SIGKILL of a real ``shopstream collect --store --checkpoint-dir`` while events arrive
at its three doors (``POST /events``, the Snowplow ``tp2`` POST and the ``/i`` pixel),
then a restart on the same directory: every event that got its success answer (202, 200,
the GIF) comes out of the restarted pipeline, as for ``serve`` (the same write-ahead
log, :mod:`shopstream.api.ingest_log`). Each session's ``session_page_count`` in the
store counts its acknowledged events (an event whose answer was lost may count too).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from helpers import cli_server

from shopstream.stores.embedded import SqliteStore

pytestmark = pytest.mark.integration

TP2 = "/com.snowplowanalytics.snowplow/tp2"
ENVELOPE = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
BATCH = 50


def _page_view(session: str, ts: int) -> dict[str, object]:
    return {"eventType": "PAGE_VIEW", "sessionId": session, "userId": f"u-{session}",
            "timestamp": ts, "pageUrl": "/"}


def _pixel(session: str, ts: int) -> dict[str, str]:
    return {"e": "pv", "p": "web", "tv": "js-3", "sid": session, "duid": f"u-{session}",
            "dtm": str(ts), "url": "https://shop.example/"}


class _Doors:
    """One thread per door posting until ``stop``: per session, what was acknowledged
    and what is unknown (the connection broke before the answer)."""

    def __init__(self, url: str, t0_ms: int) -> None:
        self.url = url
        self.t0_ms = t0_ms
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.acked: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.other: Counter[int] = Counter()
        self._lock = threading.Lock()
        doors: list[Callable[[httpx.Client, str, int], int]] = [
            self._events, self._tp2, self._pixel]
        self.threads = [threading.Thread(target=self._run, args=(door, name), daemon=True)
                        for door, name in zip(doors, ("events", "tp2", "i"), strict=True)]

    def _ts(self) -> int:
        return self.t0_ms + 1 + int((time.monotonic() - self.started) * 1000)

    def _events(self, client: httpx.Client, session: str, ts: int) -> int:
        body = [_page_view(session, ts)] * BATCH
        answer = client.post("/events", content=json.dumps(body),
                             headers={"Content-Type": "application/json"})
        return BATCH if answer.status_code == 202 else -answer.status_code

    def _tp2(self, client: httpx.Client, session: str, ts: int) -> int:
        answer = client.post(TP2, json={"schema": ENVELOPE,
                                        "data": [_pixel(session, ts)] * BATCH})
        return BATCH if answer.status_code == 200 else -answer.status_code

    def _pixel(self, client: httpx.Client, session: str, ts: int) -> int:
        answer = client.get("/i", params=_pixel(session, ts))
        ok = answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
        return 1 if ok else -answer.status_code

    def _run(self, door: Callable[[httpx.Client, str, int], int], name: str) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                session = f"{name}-{n % 4}"
                n += 1
                sent = BATCH if door != self._pixel else 1
                try:
                    got = door(client, session, self._ts())
                except httpx.TransportError:
                    with self._lock:
                        self.unknown[session] += sent
                    return  # the server is gone
                with self._lock:
                    if got > 0:
                        self.acked[session] += got
                    else:
                        self.other[-got] += 1


def test_collect_killed_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    args = ["collect", "--store", str(tmp_path / "f.db"), "--checkpoint-dir",
            str(tmp_path / "ck"), "--checkpoint-seconds", "1", "--log-level", "error"]
    t0_ms = int(time.time() * 1000) // 30_000 * 30_000 - 120_000  # a past slot start
    with cli_server(args) as server:
        health = server.client.get("/health").json()
        assert health["pipeline"]["durable"] is True
        doors = _Doors(server.url, t0_ms)
        for thread in doors.threads:
            thread.start()
        deadline = time.monotonic() + 60
        while sum(doors.acked.values()) < 3_000 or len(doors.acked) < 12:
            assert time.monotonic() < deadline, (doors.acked, doors.other)
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)  # while the doors are still posting
        server.process.wait()
        doors.stop.set()
        for thread in doors.threads:
            thread.join(timeout=30)
    assert not doors.other, doors.other
    acked = sum(doors.acked.values())

    with cli_server(args) as restarted:
        pipeline = restarted.client.get("/health").json()["pipeline"]
        assert pipeline["eventsReplayed"] > 0
        # Nothing lost, nothing doubled: what a SIGKILL cut off before its answer may be in.
        assert acked <= pipeline["eventsAccepted"] <= acked + sum(doors.unknown.values())
        assert "shopstream_events_accepted_total" in restarted.client.get("/metrics").text
        # A later event moves the watermark past the slot: its session values come out.
        later = restarted.client.post("/events", json=_page_view("later", t0_ms + 60_000))
        assert later.status_code == 202
        store = SqliteStore(tmp_path / "f.db")
        keys = {s: f"session:{s}:session_page_count" for s in doors.acked}
        deadline = time.monotonic() + 30
        while True:
            counts = dict(zip(keys, store.get_many(list(keys.values())), strict=True))
            if all((counts[s] or 0) >= doors.acked[s] for s in keys):
                break
            assert time.monotonic() < deadline, (counts, doors.acked)
            time.sleep(0.2)
        store.close()
    for session in keys:
        got = counts[session] or 0
        assert doors.acked[session] <= got <= doors.acked[session] + doors.unknown[session]
    assert "Traceback" not in restarted.stderr, restarted.stderr
