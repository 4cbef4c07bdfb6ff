"""Reads of ``shopstream serve`` under fixed offered loads while its pipeline writes;
prints JSON.

Run: ``.venv/bin/python bench/read_load_bench.py [--rates 2000,5000] [--seconds 10]
[--write-rate 200] [--stores embedded,redis] [--routes features,recommendations,profile]
[--generator auto|c|python] [--generator-rt 0] [--workers 1] [--read-workers 1]
[--pythonpaths "/tmp/base,/work/main,/work/main --read-slice-us 100" --repeats 3]``

For each store (the SQLite file; a ``redis-server`` the bench starts on a free port):

1. fills the store through the real pipeline (features and Customer 360 profiles; 5
   seeded recommendations per session, as ``bench/serve_bench.py`` does) and starts
   ``shopstream serve --workers N --read-workers R`` on it (``bench/_serve.py``); the
   reads go to the read workers' port (with ``--read-workers 0``, to the main port,
   whose process hosts the pipeline);
2. a writer process posts simulated events stamped "now" to ``POST /events`` at
   ``--write-rate`` events per second (batches of 20), so the hosted pipeline decodes,
   processes and writes the store during every measurement (with ``--workers`` above 1
   no pipeline is hosted: the writer's events are refused and the JSON says so);
3. for each offered rate, the hot reads (``GET /users/{id}/features``,
   ``GET /sessions/{id}/recommendations``, ``GET /users/{id}/profile``, interleaved,
   ids at random) are sent *open loop* over 32 keep-alive connections (see
   ``bench/load_generator.py``: each request is due at a fixed time and its latency runs
   from then to the end of its answer; not a saturation test), with the load average
   before and after, and the server's CPU time over the measurement per answered read
   (all its threads and processes, read workers included: uvicorn, the app, the store
   reads, and the pipeline's writes), also less the CPU it spends per second while only
   the writer runs (measured for ``--seconds`` before the reads);
4. the same generator against a trivial asyncio server (``generator_floor``): the latency
   of the generator, the kernel and the machine's load alone (with ``--generator-rt``,
   also with that server ``SCHED_FIFO``: the generator and the kernel alone);
5. where a read's CPU goes, in process (``bench/read_cost.py``): the answer alone, the
   ASGI app, uvicorn's protocol path and the fast protocol path, per route.

The machine has 2 cores shared by the server, the writer, the generator and whatever
else runs; read the p99s next to the load averages and the floor, and the CPU per read
as what holds on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _serve import (
    ServeProcess,
    children,
    cpu_seconds,
    load_average,
    start_redis,
    tree_cpu_seconds,
    tree_run_queue_seconds,
)
from load_generator import Generator, floor
from read_cost import where_time_goes
from serve_bench import fill_store

from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig

ROUTES = {"features": "/users/{user}/features",
          "recommendations": "/sessions/{session}/recommendations",
          "profile": "/users/{user}/profile"}


def _writer(port: int, rate: float, seconds: float, counts: Any) -> None:
    """Post ``rate`` events per second (batches of 20) for ``seconds``."""
    batch = 20
    every = batch / rate
    url = f"http://127.0.0.1:{port}/events"
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        now_ms = int(time.time() * 1000)
        body = json.dumps([
            {"eventType": "VIEW_PRODUCT" if i % 5 else "ADD_TO_CART",
             "sessionId": f"bench-s{(n + i) % 500}", "userId": f"bench-u{(n + i) % 300}",
             "productId": f"P{(n * 7 + i) % 400:05d}", "price": 12.5, "quantity": 1,
             "timestamp": now_ms} for i in range(batch)]).encode()
        request = urllib.request.Request(url, body, {"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                counts[0 if answer.status == 202 else 1] += batch
        except OSError:
            counts[1] += batch
        n += batch
        pause = started + (n / batch) * every - time.monotonic()
        if pause > 0:
            time.sleep(pause)


def _paths(routes: list[str], users: list[str], sessions: list[str]) -> dict[str, list[str]]:
    return {route: [ROUTES[route].format(user=u, session=s)
                    for u, s in zip(users * (len(sessions) // max(len(users), 1) + 1),
                                    sessions, strict=False)]
            for route in routes}


def _serve_and_read(spec: str, args: argparse.Namespace, mixed: list[str],
                    generator: Generator, entry: str | None) -> dict[str, Any]:
    """One server under the writer and the offered rates: ``entry`` is its code tree
    (``None``: this one), then any extra ``serve`` arguments, blank separated."""
    pythonpath, *extra = entry.split() if entry is not None else [None]
    env = os.environ.copy()
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath
    try:
        server = ServeProcess(spec, "--workers", str(args.workers), *extra,
                              read_workers=args.read_workers, cwd=pythonpath)
    finally:
        os.environ.clear()
        os.environ.update(env)
    pid = server.proc.pid
    result: dict[str, Any] = {"pythonpath": pythonpath, "serve_arguments": extra}
    counts = multiprocessing.Array("l", 2)
    writing_s = (len(args.rates) + 1) * (args.seconds + 8) + 10
    writer = multiprocessing.Process(target=_writer, daemon=True,
                                     args=(server.port, args.write_rate, writing_s, counts))
    runs = []
    try:
        writer.start()
        time.sleep(2)  # the pipeline is writing before the reads start
        # The server's CPU while it only takes the writer's events: its share is
        # taken out of the CPU per read.
        cpu_before, clock = tree_cpu_seconds(pid), time.monotonic()
        time.sleep(args.seconds)
        writing_cpu_per_s = ((tree_cpu_seconds(pid) - cpu_before)
                             / (time.monotonic() - clock))
        result["server_cpu_s_per_s_while_only_writing"] = round(writing_cpu_per_s, 4)
        for rate in args.rates:
            load_before = load_average()
            cpu_before, clock = tree_cpu_seconds(pid), time.monotonic()
            wait_before = tree_run_queue_seconds(pid)
            workers = children(pid)  # the read workers (none with --read-workers 0)
            workers_before = sum(cpu_seconds(one) for one in workers)
            reads = generator.run(server.reads_port, mixed, rate, args.seconds)
            cpu = tree_cpu_seconds(pid) - cpu_before
            workers_cpu = sum(cpu_seconds(one) for one in workers) - workers_before
            wait = tree_run_queue_seconds(pid) - wait_before
            elapsed = time.monotonic() - clock
            answered = max(reads["answered"], 1)
            reads["load_average_before"] = load_before
            reads["load_average_after"] = load_average()
            reads["server_cpu_us_per_answered_read"] = round(cpu / answered * 1e6, 1)
            reads["server_cpu_us_per_answered_read_less_writing"] = round(
                (cpu - writing_cpu_per_s * elapsed) / answered * 1e6, 1)
            # The read workers alone: no pipeline in it, the steadier figure to compare.
            reads["read_workers_cpu_us_per_answered_read"] = round(
                workers_cpu / answered * 1e6, 1)
            reads["server_run_queue_wait_us_per_answered_read"] = round(
                wait / answered * 1e6, 1)
            reads["goal_p99_under_2_ms_met"] = (reads["p99_ms"] is not None
                                                and reads["p99_ms"] < 2.0)
            runs.append(reads)
            time.sleep(2)
    finally:
        writer.terminate()
        writer.join(10)
        server.stop()
    result["reads"] = runs
    result["writes"] = {"offered_events_per_s": args.write_rate,
                        "accepted_events": counts[0], "refused_events": counts[1]}
    return result


def bench_store(kind: str, args: argparse.Namespace, workdir: Path,
                generator: Generator) -> dict[str, Any]:
    redis = None
    if kind == "redis":
        redis, spec = start_redis(workdir)
    else:
        spec = str(workdir / "features.db")
    try:
        started = time.perf_counter()
        config = PipelineConfig(features=FeaturesConfig(), profiles=ProfilesConfig())
        users, sessions, written = fill_store(spec, args.sessions, workdir, config)
        result: dict[str, Any] = {"store": kind, "users": len(users), "sessions": len(sessions),
                                  "values_written_by_fill": written,
                                  "fill_seconds": round(time.perf_counter() - started, 1)}
        by_route = _paths(args.routes, users, sessions)
        mixed = [path for group in zip(*by_route.values(), strict=False) for path in group]
        # Servers of each code tree in turn, repeat after repeat (same store, writer,
        # generator and about the same load for each).
        servers = [_serve_and_read(spec, args, mixed, generator, pythonpath)
                   for _ in range(args.repeats) for pythonpath in args.pythonpaths]
        if args.pythonpaths == [None] and args.repeats == 1:
            result |= servers[0]
            del result["pythonpath"]
        else:
            result["servers"] = servers
        try:
            result["where_time_goes"] = where_time_goes(spec, by_route)
        except Exception as exc:  # keep the measurements above
            result["where_time_goes"] = {"error": repr(exc)}
        return result
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="2000,5000",
                        help="offered reads per second, comma separated")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--write-rate", type=float, default=200.0)
    parser.add_argument("--sessions", type=int, default=5_000)
    parser.add_argument("--stores", default="embedded,redis")
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--generator", choices=("auto", "c", "python"), default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--read-workers", type=int, default=1,
                        help="serve --read-workers: reads go to their port (0: to the "
                             "main port, the process hosting the pipeline)")
    parser.add_argument("--generator-rt", type=int, default=0, metavar="PRIORITY",
                        help="run the C generator SCHED_FIFO at this priority (root or "
                             "CAP_SYS_NICE), so a loaded machine does not delay its own "
                             "wake-ups (default 0: a normal process)")
    parser.add_argument("--pythonpaths", default="",
                        help="code trees to compare, comma separated: each server runs "
                             "with PYTHONPATH set to one (e.g. a git worktree of the "
                             "baseline), in turn, --repeats times (default: this tree); "
                             "after a tree, blank separated, extra serve arguments "
                             "(e.g. '/work/main --read-slice-us 100')")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the generator's floor against a trivial server")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.routes = [r.strip() for r in args.routes.split(",")]
    args.pythonpaths = [p.strip() for p in args.pythonpaths.split(",")] if (
        args.pythonpaths) else [None]
    unknown = sorted(set(args.routes) - set(ROUTES))
    if unknown:
        parser.error(f"--routes: unknown {unknown}, known: {sorted(ROUTES)}")
    generator = Generator(args.generator, args.generator_rt)
    results: dict[str, Any] = {
        "benchmark": "read_load", "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "load_average_at_start": load_average(), "offered_reads_per_s": args.rates,
        "seconds": args.seconds, "workers": args.workers,
        "read_workers": args.read_workers, "routes": args.routes,
        "pythonpaths": args.pythonpaths, "repeats": args.repeats,
        "generator": generator.kind, "generator_rt": args.generator_rt,
        "generator_build_error": generator.build_error or None,
        "goal": "p99 < 2 ms", "note": "generator, writer and server share the machine's "
        "cores: the generator floor is the latency of the generator and kernel alone; the "
        "CPU per read holds on a quiet machine, the p99 needs one", "stores": []}
    try:
        if not args.no_floor:
            results["generator_floor"] = []
            # With --generator-rt, also against a SCHED_FIFO trivial server: the
            # generator and the kernel alone, the machine's load out of it.
            for server_rt in sorted({0, args.generator_rt}):
                for rate in args.rates:
                    load_before = load_average()
                    run = floor(generator, rate, args.seconds, server_rt)
                    run["load_average_before"] = load_before
                    run["load_average_after"] = load_average()
                    results["generator_floor"].append(run)
        with tempfile.TemporaryDirectory() as tmp:
            for kind in args.stores.split(","):
                workdir = Path(tmp) / kind.strip()
                workdir.mkdir()
                results["stores"].append(bench_store(kind.strip(), args, workdir, generator))
    finally:
        generator.close()
    results["load_average_at_end"] = load_average()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
