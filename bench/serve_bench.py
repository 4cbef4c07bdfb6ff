"""Load test of ``shopstream serve`` from a second process, on 127.0.0.1; prints JSON.

Run: ``.venv/bin/python bench/serve_bench.py [--rate 2000] [--seconds 10]``
(``--stores embedded,redis`` by default).

For each store (the embedded SQLite file, and a ``redis-server`` the bench starts on a
free port when ``redis`` is asked for):

1. fills the store: simulated shoppers (a day of traffic ending now) go through the real
   pipeline with the feature operators and the store tap, without the end-of-input flush,
   so the store holds live values; ``recs:session:{id}`` has no producer yet, so the bench
   seeds 5 recommendations for every simulated session itself (it measures the read path);
2. starts ``shopstream serve --store ... --workers 1`` as a subprocess;
3. for ``GET /users/{id}/features`` and ``GET /sessions/{id}/recommendations`` with ids
   drawn at random from those stored, sends requests *open loop* at ``--rate`` per second
   for ``--seconds`` over keep-alive connections (latency counted from the moment a
   request was due, so a slow server cannot hide queueing), then, when Debian's ``wrk`` is
   installed, measures the closed-loop maximum with it (``wrk -t1 -c16``);
4. measures batch write throughput to the store (200,000 feature keys in batches of 2,000).

Every request loop is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from shopstream.connectors.files import JsonlSource
from shopstream.events.decode import EventDecoder
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.stores import StoreEntry, open_store
from shopstream.stores.tap import StoreTap

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill_store(spec: str, sessions: int, workdir: Path,
               config: PipelineConfig | None = None) -> tuple[list[str], list[str], int]:
    """Run simulated traffic through the pipeline (``config``, by default the feature
    operators) into the store; return the ids."""
    events_path = workdir / "events.jsonl"
    end_ms = int(time.time() * 1000)
    write_jsonl(SimulationConfig(sessions=sessions, days=1, seed=11, end_ms=end_ms),
                events_path, progress=False)
    store = open_store(spec)
    tap = StoreTap(store)
    engine = Engine(default_topology(config or PipelineConfig(features=FeaturesConfig())), 5_000,
                    lambda out: tap.write(out) if out.stream in tap.streams else None)
    decode = EventDecoder().decode
    users: set[str] = set()
    session_ids: set[str] = set()
    for raw, _ in JsonlSource(events_path):
        event = decode(raw)
        users.add(event.user_id)
        session_ids.add(event.session_id)
        engine.offer(event)
    engine.drain()          # no finish(): the windows stay open, as in a live store
    tap.flush()
    recs = [StoreEntry(f"recs:session:{sid}",
                       [{"productId": f"P{(hash(sid) + i) % 500:05d}", "score": 1 - i / 10,
                         "reason": "bench seed"} for i in range(5)], 3_600.0)
            for sid in sorted(session_ids)]
    store.write_batch(recs)
    written = tap.written + len(recs)
    store.close()
    return sorted(users), sorted(session_ids), written


def write_throughput(spec: str, keys: int = 200_000, batch: int = 2_000) -> dict[str, Any]:
    store = open_store(spec)
    entries = [StoreEntry(f"bench:user:u{i}:product_view_count_5min", i % 17, 600.0)
               for i in range(keys)]
    started = time.perf_counter()
    for start in range(0, keys, batch):
        store.write_batch(entries[start:start + batch])
    seconds = time.perf_counter() - started
    store.delete([e.key for e in entries])
    store.close()
    return {"keys": keys, "batch": batch, "seconds": round(seconds, 3),
            "keys_per_second": round(keys / seconds)}


class Server:
    """``shopstream serve`` in a subprocess."""

    def __init__(self, spec: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shopstream.cli", "serve", "--store", spec, "--port",
             str(self.port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if c.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"shopstream serve did not start: {err}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   path: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def open_loop(port: int, paths: list[str], rate: float, seconds: float,
                    connections: int = 32) -> dict[str, Any]:
    """Requests due every 1/rate s; latency from the due time to the end of the answer."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    rng = random.Random(5)

    async def one(due: float, path: str) -> None:
        conn = await pool.get()
        try:
            status = await _request(*conn, path)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    # The client's own garbage collections would show up as server latency.
    gc.collect()
    gc.disable()
    # Warm-up outside the measurement: connections, caches, first-request costs.
    await asyncio.gather(*(one(time.perf_counter(), rng.choice(paths)) for _ in range(200)))
    latencies.clear()
    statuses.clear()
    # uvloop's loop.time() ticks in whole milliseconds: time with perf_counter.
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, rng.choice(paths))))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    elapsed = time.perf_counter() - start
    gc.enable()
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 3)

    return {"target_rps": rate, "requests": len(latencies),
            "achieved_rps": round(len(latencies) / elapsed), "statuses": statuses,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": round(latencies[-1] * 1000, 3),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 3)}


def wrk(port: int, paths: list[str], seconds: int, workdir: Path) -> dict[str, Any] | None:
    binary = shutil.which("wrk")
    if binary is None:
        return None
    script = workdir / "paths.lua"
    sample = random.Random(3).sample(paths, min(2_000, len(paths)))
    script.write_text("local paths = {" + ",".join(json.dumps(p) for p in sample) + "}\n"
                      "request = function()\n"
                      "  return wrk.format('GET', paths[math.random(#paths)])\nend\n")
    out = subprocess.run([binary, "-t1", "-c16", f"-d{seconds}s", "--latency", "-s",
                          str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True)
    result: dict[str, Any] = {"command": f"wrk -t1 -c16 -d{seconds}s --latency"}
    for line in out.stdout.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = round(float(words[1]))
        elif words[:1] in (["50%"], ["99%"]):
            result[f"p{words[0][:-1]}"] = words[1]
        elif "Non-2xx" in line:
            result["non_2xx"] = int(words[-1])
    return result


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def bench_store(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis = None
    if kind == "redis":
        redis, spec = start_redis(workdir)
    else:
        spec = str(workdir / "features.db")
    try:
        started = time.perf_counter()
        users, sessions, written = fill_store(spec, args.sessions, workdir)
        result: dict[str, Any] = {"store": kind, "users": len(users), "sessions": len(sessions),
                                  "values_written_by_pipeline": written,
                                  "fill_seconds": round(time.perf_counter() - started, 2)}
        server = Server(spec)
        try:
            for name, paths in (
                    ("GET /users/{id}/features", [f"/users/{u}/features" for u in users]),
                    ("GET /sessions/{id}/recommendations",
                     [f"/sessions/{s}/recommendations" for s in sessions])):
                result[name] = {
                    "open_loop": asyncio.run(open_loop(server.port, paths, args.rate,
                                                       args.seconds)),
                    "wrk_max": wrk(server.port, paths, args.wrk_seconds, workdir),
                }
        finally:
            server.stop()
        result["write_throughput"] = write_throughput(spec)
        return result
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--stores", default="embedded,redis")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    results: dict[str, Any] = {"benchmark": "serve", "python": sys.version.split()[0],
                               "cpus": os.cpu_count(), "workers": 1, "rate": args.rate,
                               "seconds": args.seconds, "stores": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            workdir = Path(tmp) / kind
            workdir.mkdir()
            results["stores"].append(bench_store(kind.strip(), args, workdir))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
