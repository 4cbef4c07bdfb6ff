"""Reads of ``shopstream serve`` under a fixed offered load while its pipeline writes;
prints JSON.

Run: ``.venv/bin/python bench/read_load_bench.py [--rate 5000] [--seconds 10]
[--write-rate 200] [--stores embedded,redis]``

For each store (the SQLite file; a ``redis-server`` the bench starts on a free port):

1. fills the store through the real pipeline (as ``bench/serve_bench.py`` does) and
   starts ``shopstream serve --workers 1`` on it;
2. a writer process posts simulated events stamped "now" to ``POST /events`` at
   ``--write-rate`` events per second (batches of 20), so the hosted pipeline decodes,
   processes and writes the store during the whole measurement;
3. ``GET /users/{id}/features`` and ``GET /sessions/{id}/recommendations`` alternate
   *open loop* at ``--rate`` requests per second over 32 keep-alive connections:
   each request is due at a fixed time and its latency runs from that time to the end
   of the answer (a slow server cannot hide queueing; this is not a saturation test);
4. the same load generator against a trivial asyncio server answering a fixed 200
   (``generator_floor``): what the generator and the kernel alone cost on this machine;
   and the server's CPU time over the measurement per answered read (uvicorn, httptools,
   the app, the store read, and the pipeline thread's share);
5. where a request's time goes, measured in process with ``time.thread_time_ns``
   (median of 5 rounds of 2,000 calls, CPU time of this thread only): the store read
   alone, and the whole ASGI app (guard, hot path, store read, JSON) with no socket.

The machine has 2 cores shared by the server (event loop and pipeline thread under one
GIL), the writer, the load generator, and whatever else runs: the JSON records the load
average at start and end, and the generator floor says how much of the latency is the
generator's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve_bench import Server, _request, fill_store, free_port, start_redis

from shopstream.api.app import ServeState, create_app
from shopstream.api.security import SecurityConfig
from shopstream.stores import open_store


async def open_loop(port: int, paths: list[str], rate: float, seconds: float,
                    connections: int = 32, grace_s: float = 5.0) -> dict[str, Any]:
    """Requests due every 1/rate s, over ``connections`` keep-alive connections; latency
    from the due time to the end of the answer. Requests not answered ``grace_s`` after
    the last one was due are cancelled and counted as ``unfinished`` (slower than any
    percentile they fall in: such a percentile is reported as ``null``)."""
    import gc
    import random

    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    writers = []
    for _ in range(connections):
        conn = await asyncio.open_connection("127.0.0.1", port)
        writers.append(conn[1])
        pool.put_nowait(conn)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    rng = random.Random(5)

    async def one(due: float, path: str) -> None:
        conn = await pool.get()
        status = await _request(*conn, path)
        pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    gc.collect()
    gc.disable()  # the generator's own collections would show as server latency
    await asyncio.gather(*(one(time.perf_counter(), rng.choice(paths)) for _ in range(200)))
    latencies.clear()
    statuses.clear()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, rng.choice(paths))))
    sent_s = time.perf_counter() - start
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - start
    gc.enable()
    for writer in writers:
        writer.close()
    latencies.sort()
    answered = len(latencies)

    def pct(p: float) -> float | None:
        index = int(p * total)
        return round(latencies[index] * 1000, 3) if index < answered else None

    return {"offered_rps": rate, "offered": total,
            "offered_rps_achieved_by_generator": round(total / sent_s),
            "answered": answered, "unfinished": len(pending),
            "answered_rps": round(answered / elapsed), "statuses": statuses,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_answered_ms": round(latencies[-1] * 1000, 3) if latencies else None,
            "mean_answered_ms": (round(statistics.fmean(latencies) * 1000, 3)
                                 if latencies else None)}


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


async def _trivial_server(port: int, ready: Any) -> None:
    body = b'{"ok":true}'
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d"
              b"\r\n\r\n%b" % (len(body), body))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    ready.set()
    async with server:
        await server.serve_forever()


def _run_trivial(port: int, ready: Any) -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_trivial_server(port, ready))


def generator_floor(rate: float, seconds: float) -> dict[str, Any]:
    port = free_port()
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_run_trivial, args=(port, ready), daemon=True)
    proc.start()
    ready.wait(10)
    try:
        return asyncio.run(open_loop(port, ["/x"], rate, seconds))
    finally:
        proc.terminate()
        proc.join(5)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _median_us(fn: Any, calls: int = 2_000, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.thread_time_ns()
        for _ in range(calls):
            fn()
        times.append((time.thread_time_ns() - start) / calls / 1000)
    return round(statistics.median(times), 1)


def where_time_goes(spec: str, users: list[str]) -> dict[str, Any]:
    """CPU per request in this process: the store read, and the whole app without a socket."""
    from shopstream.api.app import user_features_answer

    store = open_store(spec)
    app = create_app(ServeState(store=store, security=SecurityConfig()))
    ids = users[:500]
    state = {"i": 0}

    def read() -> None:
        state["i"] += 1
        user_features_answer(store, ids[state["i"] % len(ids)])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    loop = asyncio.new_event_loop()

    def whole() -> None:
        state["i"] += 1
        path = f"/users/{ids[state['i'] % len(ids)]}/features"
        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "headers": [(b"host", b"127.0.0.1")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "scheme": "http",
                 "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"}}
        loop.run_until_complete(app(scope, receive, send))

    try:
        return {"measured": "CPU microseconds per request in one thread (thread_time_ns), "
                            "median of 5 x 2000",
                "store_read_us": _median_us(read),
                "asgi_app_with_store_read_us": _median_us(whole)}
    finally:
        loop.close()
        store.close()


def bench_store(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis = None
    if kind == "redis":
        redis, spec = start_redis(workdir)
    else:
        spec = str(workdir / "features.db")
    try:
        users, sessions, _ = fill_store(spec, args.sessions, workdir)
        result: dict[str, Any] = {"store": kind, "users": len(users), "sessions": len(sessions)}
        server = Server(spec)
        counts = multiprocessing.Array("l", 2)
        writer = multiprocessing.Process(
            target=_writer, args=(server.port, args.write_rate, args.seconds + 8, counts),
            daemon=True)
        try:
            writer.start()
            time.sleep(2)  # the pipeline is writing before the reads start
            paths = [p for pair in zip(
                (f"/users/{u}/features" for u in users),
                (f"/sessions/{s}/recommendations" for s in sessions), strict=False)
                for p in pair]
            cpu_before = _cpu_seconds(server.proc.pid)
            result["reads"] = asyncio.run(open_loop(server.port, paths, args.rate,
                                                    args.seconds))
            answered = max(result["reads"]["answered"], 1)
            result["server_cpu_us_per_answered_read"] = round(
                (_cpu_seconds(server.proc.pid) - cpu_before) / answered * 1e6, 1)
            writer.join(args.seconds + 30)
            result["writes"] = {"offered_events_per_s": args.write_rate,
                                "accepted_events": counts[0], "refused_events": counts[1]}
        finally:
            if writer.is_alive():
                writer.terminate()
            server.stop()
        result["where_time_goes"] = where_time_goes(spec, users)
        return result
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--write-rate", type=float, default=200.0)
    parser.add_argument("--sessions", type=int, default=5_000)
    parser.add_argument("--stores", default="embedded,redis")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    results: dict[str, Any] = {
        "benchmark": "read_load", "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "offered_reads_per_s": args.rate, "seconds": args.seconds, "workers": 1,
        "goal": "p99 < 2 ms", "note": "load generator, writer and server share the machine's "
        "cores: the generator floor is the latency of the generator and kernel alone",
        "generator_floor": generator_floor(args.rate, args.seconds), "stores": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            workdir = Path(tmp) / kind.strip()
            workdir.mkdir()
            results["stores"].append(bench_store(kind.strip(), args, workdir))
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for store in results["stores"]:
        p99 = store["reads"]["p99_ms"]
        store["goal_met"] = p99 is not None and p99 < 2.0
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
