"""Accepted events per second with the write-ahead log and without; prints JSON.

Run: ``.venv/bin/python bench/ingest_bench.py [--seconds 5] [--repeats 3]``

Two measurements, each with the log (``fdatasync`` per group commit) and without it
(events handed to the pipeline queue in memory), median of ``--repeats`` runs:

1. ``log``: the ingest path alone, in this process: ``--clients`` threads submit batches
   of ``--batch`` validated events to :class:`~shopstream.api.ingest_log.IngestLog` and
   wait for each to be durable; events/s, syncs and the mean group size (how many
   submissions shared one ``fdatasync``).
2. ``http``: a real ``shopstream serve`` subprocess on 127.0.0.1 with a pending bound large
   enough not to refuse (``--max-pending-events 2000000``); ``--clients`` keep-alive
   connections post batches of ``--batch`` events for ``--seconds``; 202s per second and
   the latency of a 202 (p50, p99; wall clock, the machine is shared). The pipeline falls
   behind during the run; what is measured is acceptance, which is what the log slows.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopstream.api.ingest_log import IngestLog
from shopstream.connectors.wal import WalConfig, WriteAheadLog
from shopstream.events.model import EventType, ShopperEvent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_log(durable: bool, clients: int, batch: int, seconds: float) -> dict[str, Any]:
    """Submissions through IngestLog (with or without a WAL) for ``seconds``."""
    with tempfile.TemporaryDirectory() as tmp:
        wal = WriteAheadLog(WalConfig(tmp)) if durable else None
        sink: queue.SimpleQueue[Any] = queue.SimpleQueue()
        log = IngestLog(wal, sink.put, idle_ms=600_000)
        log.start()
        events = [ShopperEvent(EventType.PAGE_VIEW, 1_700_000_000_000 + i, f"s{i % 50}",
                               user_id=f"u{i % 50}", page_url="/") for i in range(batch)]
        done = [0] * clients
        stop = threading.Event()

        def client(index: int) -> None:
            while not stop.is_set():
                done[index] += log.submit(events).result()

        elapsed = _drive(client, clients, seconds, stop)
        log.stop()
        if wal is not None:
            wal.close()
        total = sum(done)
        return {"events_per_s": round(total / elapsed), "syncs": log.syncs,
                "mean_group": round(log.records / log.syncs, 1) if log.syncs else None}


def _drive(client: Callable[[int], None], clients: int, seconds: float,
           stop: threading.Event) -> float:
    """Run ``client(i)`` on ``clients`` threads for ``seconds``, then set ``stop`` and
    wait for them; return the wall seconds they ran."""
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def _start_serve(port: int, tmp: Path, durable: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "shopstream.cli", "serve", "--store",
            str(tmp / "f.db"), "--port", str(port), "--max-pending-events", "2000000",
            "--log-level", "error"]
    if durable:
        args += ["--checkpoint-dir", str(tmp / "ck")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    msg = "serve did not start"
    raise SystemExit(msg)


def bench_http(durable: bool, clients: int, batch: int, seconds: float) -> dict[str, Any]:
    """202s per second from a real server, with or without --checkpoint-dir."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = _start_serve(port, Path(tmp), durable)
        now_ms = int(time.time() * 1000)
        body = ("[" + ",".join(json.dumps({
            "eventType": "PAGE_VIEW", "sessionId": f"s{i % 50}", "userId": f"u{i % 50}",
            "timestamp": now_ms + i, "pageUrl": "/"}) for i in range(batch)) + "]").encode()
        accepted = [0] * clients
        latencies: list[list[float]] = [[] for _ in range(clients)]
        statuses: list[dict[int, int]] = [{} for _ in range(clients)]
        stop = threading.Event()

        def client(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while not stop.is_set():
                sent = time.perf_counter()
                conn.request("POST", "/events", body, {"content-type": "application/json"})
                answer = conn.getresponse()
                answer.read()
                statuses[index][answer.status] = statuses[index].get(answer.status, 0) + 1
                if answer.status == 202:
                    accepted[index] += batch
                    latencies[index].append(time.perf_counter() - sent)
            conn.close()

        elapsed = _drive(client, clients, seconds, stop)
        os.kill(proc.pid, signal.SIGKILL)  # the queued backlog is not what is measured
        proc.wait()
        flat = sorted(x for lat in latencies for x in lat)
        merged: dict[int, int] = {}
        for counts in statuses:
            for status, n in counts.items():
                merged[status] = merged.get(status, 0) + n
        return {"accepted_per_s": round(sum(accepted) / elapsed),
                "p50_ms": round(flat[len(flat) // 2] * 1000, 2) if flat else None,
                "p99_ms": round(flat[int(len(flat) * 0.99)] * 1000, 2) if flat else None,
                "statuses": merged}


def _median(runs: list[dict[str, Any]], key: str) -> Any:
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "measured": "events accepted per second (202 / durable future) with the "
                    "write-ahead log and without, median of repeats; wall clock on a "
                    "shared machine",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "clients": args.clients, "batch": args.batch, "seconds": args.seconds,
        "repeats": args.repeats}
    for part, fn, keys in (("log", bench_log, ("events_per_s", "mean_group")),
                           ("http", bench_http, ("accepted_per_s", "p50_ms", "p99_ms"))):
        result[part] = {}
        for mode, durable in (("wal", True), ("memory", False)):
            runs = [fn(durable, args.clients, args.batch, args.seconds)
                    for _ in range(args.repeats)]
            result[part][mode] = {key: _median(runs, key) for key in keys} | {
                "runs": runs}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
