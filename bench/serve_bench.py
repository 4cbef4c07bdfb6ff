"""Load test of ``shopstream serve`` from a second process, on 127.0.0.1; prints JSON.

Run: ``.venv/bin/python bench/serve_bench.py [--rate 2000] [--seconds 10]``
(``--stores embedded,redis`` by default).

For each store (the embedded SQLite file, and a ``redis-server`` the bench starts on a
free port when ``redis`` is asked for):

1. fills the store: simulated shoppers (a day of traffic ending now) go through the real
   pipeline with the feature operators and the store tap, without the end-of-input flush,
   so the store holds live values; ``recs:session:{id}`` has no producer yet, so the bench
   seeds 5 recommendations for every simulated session itself (it measures the read path);
2. starts ``shopstream serve --store ... --read-workers N`` as a subprocess
   (``bench/_serve.py``);
3. for ``GET /users/{id}/features`` and ``GET /sessions/{id}/recommendations`` with ids
   drawn at random from those stored, sends requests *open loop* at ``--rate`` per second
   for ``--seconds`` over keep-alive connections (``bench/load_generator.py``: latency
   counted from the moment a request was due, so a slow server cannot hide queueing) to
   the read workers' port (the main port with ``--read-workers 0``), then, when Debian's ``wrk`` is
   installed, measures the closed-loop maximum with it (``wrk -t1 -c16``);
4. measures batch write throughput to the store (200,000 feature keys in batches of 2,000).

Every request loop is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serve import ServeProcess, start_redis
from load_generator import Generator

from shopstream.connectors.files import JsonlSource
from shopstream.events.decode import EventDecoder
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.stores import StoreEntry, open_store
from shopstream.stores.tap import StoreTap

ROOT = Path(__file__).resolve().parent.parent


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
        server = ServeProcess(spec, read_workers=args.read_workers)
        generator = Generator(args.generator)
        try:
            for name, paths in (
                    ("GET /users/{id}/features", [f"/users/{u}/features" for u in users]),
                    ("GET /sessions/{id}/recommendations",
                     [f"/sessions/{s}/recommendations" for s in sessions])):
                result[name] = {
                    "open_loop": generator.run(server.reads_port, paths, args.rate,
                                               args.seconds),
                    "wrk_max": wrk(server.reads_port, paths, args.wrk_seconds, workdir),
                }
        finally:
            generator.close()
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
    parser.add_argument("--read-workers", type=int, default=1,
                        help="serve --read-workers; reads go to the read port (default 1)")
    parser.add_argument("--generator", choices=("auto", "c", "python"), default="auto")
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "serve", "python": sys.version.split()[0],
                               "cpus": os.cpu_count(), "workers": 1,
                               "read_workers": args.read_workers, "rate": args.rate,
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
