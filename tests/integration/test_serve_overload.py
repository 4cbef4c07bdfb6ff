"""Overload, then SIGKILL, of a real ``shopstream serve`` with a write-ahead log.

Clients offer events as fast as they can for 10 s (8 connections, batches of 1,000: 13x
what the pipeline takes on a 2-core machine, and about 100x what it takes with the buffer
bound, which lets it take 22,000 events per 5 s bound; the test prints both rates) to a server
whose pending events are bounded at 2,000 and whose events held for the watermark are
bounded at 20,000 more. Then the server is killed with SIGKILL while it is still behind,
and restarted on the same checkpoint directory. Every event that was answered 202 must
come out of the restarted pipeline: each session's ``session_page_count`` in the store
counts its acknowledged events (an event whose answer was lost may count too; a refused
one never does).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port

from shopstream.stores.embedded import SqliteStore

pytestmark = pytest.mark.integration

SESSIONS = 40
BATCH = 1000
CLIENTS = 8
LOAD_S = 10.0
MAX_PENDING = 2_000
MAX_BUFFERED = 20_000
#: Checkpoints come by count only: several during the load, and the event posted after it
#: is never covered by one (a count since the last one is at most 4 batches and a few
#: idle ticks), so the restart always replays a tail of the log. (By time, every 2 s, a
#: kill could fall after a checkpoint taken while the full buffer refused everything.)
CHECKPOINT_EVERY = 5_000
#: RSS the server may grow by under overload. What grew with the rate processed was the
#: engine's watermark buffer: it holds every event of the last out-of-orderness bound
#: (5 s of event time; here event time follows the clock), so 20k events/s meant 100k
#: events held, 200 MB (tracemalloc of the same load: the held ShopperEvents and their
#: strings, nothing else grew; with a 0 ms bound RSS grew by 5 MB; MALLOC_ARENA_MAX=2
#: changed nothing). Now pending + held events are at most 2,000 + 20,000, whatever the
#: rate: at about 0.65 KB each as Python objects (measured: 20,000 held, +12 MB RSS; their
#: checkpoint pickle adds 92 B each) that is 15 MB, plus about 5 MB of connections, request
#: bodies and threads. Measured with the bound: 21-25 MB, at load average 22 and at 5
#: (bench/overload_rss_bench.py; the default bound, which this load does not reach: 153-179
#: MB at 14k events/s processed). The rest is room for the allocator; without any bound
#: the server grew by 830 MB in 10 s.
RSS_GROWTH_BOUND_MB = 80


def _start(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    log = tmp / "serve.log"
    with open(log, "ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopstream.cli", "serve", "--store", str(tmp / "features.db"),
             "--port", str(port), "--checkpoint-dir", str(tmp / "ck"),
             "--max-pending-events", str(MAX_PENDING), "--max-buffered-events",
             str(MAX_BUFFERED), "--checkpoint-every", str(CHECKPOINT_EVERY),
             "--checkpoint-seconds", "3600",
             "--wal-segment-bytes", str(1 << 20), "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if _get(port, "/health")["status"] == "ok":
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("serve did not answer /health within 60 s")


def _get(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _page_view(session: int, ts: int) -> bytes:
    return (b'{"eventType":"PAGE_VIEW","sessionId":"ov-s%d","userId":"ov-u%d",'
            b'"timestamp":%d,"pageUrl":"/"}' % (session, session, ts))


class _Load:
    """``CLIENTS`` threads posting batches of ``BATCH`` page views over keep-alive
    connections until ``stop``; per session, what was acknowledged and what is unknown."""

    def __init__(self, port: int, t0_ms: int) -> None:
        self.port = port
        self.t0_ms = t0_ms
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.acked: Counter[int] = Counter()
        self.unknown: Counter[int] = Counter()
        self.refused_events = 0
        self.offered_events = 0
        self.other: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def one_more(self) -> None:
        """One event of session 0, retried until accepted (the log's tail at the kill)."""
        deadline = time.monotonic() + 60
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            ts = self.t0_ms + 1 + int((time.monotonic() - self.started) * 1000)
            conn.request("POST", "/events", _page_view(0, ts),
                         {"content-type": "application/json"})
            status = conn.getresponse().status
            conn.close()
            with self._lock:
                self.offered_events += 1
                if status == 202:
                    self.acked[0] += 1
                    return
                assert status == 503, status
                self.refused_events += 1
            assert time.monotonic() < deadline, "no event accepted for 60 s"
            time.sleep(0.1)

    def _run(self, worker: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            session = (worker * 7919 + n) % SESSIONS
            n += 1
            ts = self.t0_ms + 1 + int((time.monotonic() - self.started) * 1000)
            body = b"[" + b",".join([_page_view(session, ts)] * BATCH) + b"]"
            try:
                conn.request("POST", "/events", body, {"content-type": "application/json"})
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                retry_after = answer.getheader("retry-after")
            except OSError:
                status, retry_after = 0, None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                self.offered_events += BATCH
                if status == 202:
                    self.acked[session] += BATCH
                elif status == 503:
                    assert retry_after == "1"
                    self.refused_events += BATCH
                elif status == 0:
                    self.unknown[session] += BATCH
                else:
                    self.other[status] += 1
        conn.close()


def test_overload_then_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    port = free_port()
    server = _start(port, tmp_path)
    restarted = None
    try:
        baseline_mb = _rss_mb(server.pid)
        t0_ms = int(time.time() * 1000) // 30_000 * 30_000 - 120_000  # a past slot start
        load = _Load(port, t0_ms)
        for thread in load.threads:
            thread.start()
        peak_mb, max_pending, max_held = baseline_mb, 0, 0
        while time.monotonic() - load.started < LOAD_S:
            peak_mb = max(peak_mb, _rss_mb(server.pid))
            sample = _get(port, "/health")["pipeline"]
            max_pending = max(max_pending, sample["eventsPending"])
            max_held = max(max_held, sample["eventsPending"] + sample["eventsBuffered"])
            time.sleep(0.2)
        load.stop.set()
        for thread in load.threads:
            thread.join(timeout=30)
        load.one_more()
        pipeline = _get(port, "/health")["pipeline"]
        server.send_signal(signal.SIGKILL)  # while the pipeline is still behind
        server.wait()
        elapsed = time.monotonic() - load.started
        acked = sum(load.acked.values())
        # Taken by the pipeline: processed by the operators or held for the watermark.
        taken = pipeline["eventsProcessed"] + pipeline["eventsBuffered"]
        processed_rate = taken / elapsed
        print(json.dumps({"offered_per_s": round(load.offered_events / elapsed),
                          "accepted_per_s": round(acked / elapsed),
                          "processed_per_s": round(processed_rate),
                          "refused": load.refused_events, "pending_at_kill":
                          pipeline["eventsPending"], "max_pending_and_held": max_held,
                          "baseline_rss_mb": round(baseline_mb),
                          "peak_rss_mb": round(peak_mb)}))

        assert not load.other, load.other
        assert acked > 0 and load.refused_events > 0
        # Really overloaded: 13x on the 2-core test machine (10x asked; 5x is the floor
        # kept so that a busier machine does not make the test flaky).
        assert load.offered_events >= 5 * taken
        assert pipeline["eventsRefused"] == load.refused_events  # every 503 is counted
        assert pipeline["eventsAccepted"] == acked
        assert max_pending <= MAX_PENDING
        # (a batch being handed to the engine counts in both for a moment)
        assert 0 < max_held <= MAX_PENDING + MAX_BUFFERED + BATCH
        assert peak_mb - baseline_mb < RSS_GROWTH_BOUND_MB, (baseline_mb, peak_mb)

        restarted = _start(port, tmp_path)
        health = _get(port, "/health")["pipeline"]
        assert health["eventsReplayed"] > 0
        assert pipeline["checkpoints"]["saved"] > 1  # at start, then during the load
        # Nothing lost, nothing doubled (the restored engine holds some for the watermark).
        assert health["eventsProcessed"] + health["eventsBuffered"] == acked
        # A later event moves the watermark past the slot: its session values come out.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/events", _page_view(SESSIONS, t0_ms + 60_000),
                     {"content-type": "application/json"})
        assert conn.getresponse().status == 202
        conn.close()
        store = SqliteStore(tmp_path / "features.db")
        keys = [f"session:ov-s{s}:session_page_count" for s in range(SESSIONS)]
        deadline = time.monotonic() + 20
        while True:
            counts = dict(zip(range(SESSIONS), store.get_many(keys), strict=True))
            if all((counts[s] or 0) >= load.acked[s] for s in range(SESSIONS)):
                break
            assert time.monotonic() < deadline, (counts, load.acked)
            time.sleep(0.2)
        store.close()
        for s in range(SESSIONS):
            assert load.acked[s] <= (counts[s] or 0) <= load.acked[s] + load.unknown[s]
    finally:
        for proc in (server, restarted):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
