"""Customer 360 costs: the profile stages in the pipeline, per event at 1x and 10x
history, and ``GET /users/{id}/profile`` at a fixed offered load; prints JSON.

Run: ``.venv/bin/python bench/profile_bench.py [--events 200000] [--rate 2000]
[--seconds 10] [--parts pipeline,history,lookups]``

* ``pipeline``: CPU time of this thread (``time.thread_time``, so other processes on the
  machine do not count) to decode the cached simulated week of ``foundation_bench`` and
  run it through the default pipeline on the embedded engine, without and with
  ``PipelineConfig.profiles``; medians of ``--repeats`` runs; the share the profile stages
  add is what decides whether they are on by default (< ~10%).
* ``history``: the profile stages alone; ``--users`` shoppers first get 1x or 10x
  history (``--history`` events each, spread over 30 days, all applied), then the CPU
  time of ``--measured`` further events (drained, timers fired) is divided by their
  count. Caps bound the state, so the two must be about equal.
* ``lookups``: simulated shoppers (a day ending now) go through the profile stages into
  an embedded store via the store tap (no end-of-input flush: live values), then
  ``shopstream serve --workers 1`` is started as a subprocess and
  ``GET /users/{id}/profile`` is sent *open loop* at ``--rate`` requests/s for
  ``--seconds`` (latency from the moment a request was due; ``serve_bench.open_loop``),
  with ids drawn from the stored profiles, then at a quarter of the rate; as a reference
  on the same server and load, ``GET /users/{id}/features`` (the hot path of
  ``api/app.py``; 404 here, after the same kind of store read); ``GET /segments`` at
  100/s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation_bench import events_file
from serve_bench import Server, open_loop

from shopstream.connectors.files import JsonlSource
from shopstream.events import EventType, Item, ShopperEvent
from shopstream.events.decode import EventDecoder
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig, default_topology, profile_stages
from shopstream.runners.embedded.engine import Engine
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.stores import open_store
from shopstream.stores.tap import StoreTap
from shopstream.topology import Topology

DAY_MS = 86_400_000


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median thread CPU seconds of ``fn`` over ``repeats`` runs."""
    runs = []
    for _ in range(repeats):
        gc.collect()
        start = time.thread_time()
        fn()
        runs.append(time.thread_time() - start)
    return statistics.median(runs)


def run_pipeline(path: Path, config: PipelineConfig) -> int:
    decode = EventDecoder().decode
    engine = Engine(default_topology(config), 5_000, lambda _: None)
    n = 0
    for raw, _ in JsonlSource(path):
        engine.offer(decode(raw))
        n += 1
        if not n & 255:
            engine.drain()
    engine.finish()
    return n


def bench_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    path = events_file(args.events, args.cache)
    base = cpu_seconds(lambda: run_pipeline(path, PipelineConfig()), args.repeats)
    with_profiles = cpu_seconds(
        lambda: run_pipeline(path, PipelineConfig(profiles=ProfilesConfig())), args.repeats)
    return {"events": args.events, "events_file": str(path),
            "measured": "thread CPU seconds, median of repeats, decode + engine + finish",
            "default_seconds": round(base, 3), "with_profiles_seconds": round(with_profiles, 3),
            "profiles_added_share": round(with_profiles / base - 1.0, 4),
            "profiles_us_per_event": round((with_profiles - base) / args.events * 1e6, 3)}


def shopper_events(users: int, per_user: int, start_ms: int, span_ms: int,
                   seed: int) -> list[ShopperEvent]:
    """``per_user`` events per shopper between ``start_ms`` and ``start_ms + span_ms``:
    sessions of 6 (views, an add, a purchase every third session)."""
    events = []
    step = span_ms // max(per_user, 1)
    for u in range(users):
        for i in range(per_user):
            ts = start_ms + i * step + (u * 7_919 + seed) % max(step // 2, 1)
            session = f"u{u}-s{i // 6}-{seed}"
            kind = i % 6
            product = f"p{(u * 31 + i) % 400}"
            category = f"c{(u + i) % 40}"
            if kind == 5 and (i // 6) % 3 == 0:
                events.append(ShopperEvent(
                    EventType.PURCHASE, ts, session, user_id=f"u{u}",
                    order_id=f"o{u}-{i}-{seed}",
                    items=(Item(product, category=category, price=12.5 + i % 90),),
                    device="mobile" if u % 2 else "desktop"))
            elif kind == 4:
                events.append(ShopperEvent(EventType.ADD_TO_CART, ts, session,
                                           user_id=f"u{u}", product_id=product,
                                           category=category, price=12.5 + i % 90))
            else:
                events.append(ShopperEvent(EventType.VIEW_PRODUCT, ts, session,
                                           user_id=f"u{u}", product_id=product,
                                           category=category, price=12.5 + i % 90,
                                           device="mobile" if u % 2 else "desktop"))
    events.sort(key=lambda e: e.timestamp_ms)
    return events


def bench_history(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"users": args.users, "measured_events": args.measured,
                           "measured": "thread CPU time of the measured events / count, "
                                       "median of repeats"}
    t0 = 1_767_225_600_000
    for factor in (1, 10):
        history = shopper_events(args.users, args.history * factor, t0, 30 * DAY_MS, 1)
        measured = shopper_events(args.users, max(args.measured // args.users, 1),
                                  t0 + 31 * DAY_MS, DAY_MS, 2)
        runs = []
        for _ in range(args.repeats):
            engine = Engine(Topology(profile_stages(ProfilesConfig()), ()), 5_000,
                            lambda _: None)
            for event in history:
                engine.offer(event)
            engine.advance(t0 + 31 * DAY_MS - 1)     # history applied, sessions ended
            gc.collect()
            start = time.thread_time()
            for event in measured:
                engine.offer(event)
            engine.advance(t0 + 33 * DAY_MS)
            runs.append((time.thread_time() - start) / len(measured))
        out[f"{factor}x"] = {"history_events_per_user": args.history * factor,
                             "us_per_event": round(statistics.median(runs) * 1e6, 3)}
    out["ratio_10x_to_1x"] = round(out["10x"]["us_per_event"] / out["1x"]["us_per_event"], 3)
    return out


def fill_store(spec: str, sessions: int, workdir: Path) -> list[str]:
    events_path = workdir / "events.jsonl"
    end_ms = int(time.time() * 1000)
    write_jsonl(SimulationConfig(sessions=sessions, days=1, seed=11, end_ms=end_ms),
                events_path, progress=False)
    store = open_store(spec)
    tap = StoreTap(store)
    users: set[str] = set()

    def sink(out: Any) -> None:
        if out.stream in tap.streams:
            tap.write(out)
            if out.stream == "profiles":
                users.add(out.key)

    topology = Topology(profile_stages(ProfilesConfig()),
                        ("profiles", "segment-changes", "segment-counts"))
    engine = Engine(topology, 5_000, sink)
    decode = EventDecoder().decode
    for raw, _ in JsonlSource(events_path):
        engine.offer(decode(raw))
    engine.drain()            # no finish(): profiles stay live, as in a running store
    tap.close()
    store.close()
    return sorted(users)


def bench_lookups(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        spec = str(workdir / "features.db")
        users = fill_store(spec, args.sessions, workdir)
        server = Server(spec)
        try:
            paths = [f"/users/{u}/profile" for u in users]
            profile = asyncio.run(open_loop(server.port, paths, args.rate, args.seconds))
            quarter = asyncio.run(open_loop(server.port, paths, args.rate / 4, args.seconds))
            # Reference on the same server and machine load: the features hot path (404
            # here: the store holds no features, but the same 23-key read is made).
            features = asyncio.run(open_loop(server.port,
                                             [f"/users/{u}/features" for u in users],
                                             args.rate, args.seconds))
            segments = asyncio.run(open_loop(server.port, ["/segments"], 100.0, 5.0,
                                             connections=4))
        finally:
            server.stop()
    return {"store": "embedded", "profiles_stored": len(users),
            "GET /users/{id}/profile": profile,
            "GET /users/{id}/profile at a quarter of the rate": quarter,
            "reference GET /users/{id}/features (hot path, 404)": features,
            "GET /segments": segments}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="pipeline,history,lookups")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--history", type=int, default=60)
    parser.add_argument("--measured", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2_000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "profiles", "python": sys.version.split()[0]}
    parts = {"pipeline": bench_pipeline, "history": bench_history, "lookups": bench_lookups}
    for name in args.parts.split(","):
        if name not in parts:
            print(f"profile_bench: unknown part {name!r}, pick from {sorted(parts)}",
                  file=sys.stderr)
            return 2
        results[name] = parts[name](args)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
