"""Decode and basket-tracking throughput on simulated events; prints JSON.

Run: ``.venv/bin/python bench/foundation_bench.py [--events 1000000] [--repeats 5]``

Measures, each as the median of ``--repeats`` runs in this one process:

* ``read``: splitting the JSONL file into lines (the floor under everything else);
* ``decode``: reading plus decoding every line into a ``ShopperEvent``;
* ``decode_baskets``: reading, decoding and the basket tracker alone on the embedded
  engine (outputs handed to a no-op sink): the foundation's throughput target;
* ``decode_pipeline``: the same with every operator of the default pipeline;
* ``run``: ``EmbeddedRunner`` with the default pipeline, output files included.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shopstream.connectors.files import JsonlSource
from shopstream.events.decode import EventDecoder
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.topology import Topology

#: The pipeline measured: the default one, or with ``--features`` the feature operators too.
CONFIG = PipelineConfig()


def events_file(count: int, cache: Path) -> Path:
    """About ``count`` simulated events (a week of traffic), generated once and cached."""
    path = cache / f"sim-{count}.jsonl"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # The simulator writes about 5.4 events per session: ask for enough sessions.
        write_jsonl(SimulationConfig(sessions=max(1, round(count / 5.42)), seed=7, days=7,
                                     end_ms=1_767_225_600_000), tmp, progress=False)
        tmp.rename(path)
    return path


def timed(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    seconds = []
    n = 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        n = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), n


def bench_read(path: Path) -> int:
    return sum(1 for _ in JsonlSource(path))


def bench_decode(path: Path) -> int:
    decode = EventDecoder().decode
    n = 0
    for raw, _ in JsonlSource(path):
        decode(raw)
        n += 1
    return n


def bench_decode_baskets(path: Path) -> int:
    full = default_topology(CONFIG)
    baskets = tuple(stage for stage in full.stages if stage.name == "baskets")
    return _engine_only(path, Topology(baskets, full.sink_streams))


def bench_decode_pipeline(path: Path) -> int:
    return _engine_only(path, default_topology(CONFIG))


def _engine_only(path: Path, topology: Topology) -> int:
    decode = EventDecoder().decode
    outputs = [0]

    def sink(_: object) -> None:
        outputs[0] += 1

    engine = Engine(topology, 5_000, sink)
    n = 0
    for raw, _ in JsonlSource(path):
        engine.offer(decode(raw))
        n += 1
        if not n & 255:
            engine.drain()
    engine.finish()
    return n


def bench_run(path: Path) -> int:
    with tempfile.TemporaryDirectory() as out:
        return EmbeddedRunner(default_topology(CONFIG), out).run(path).lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(".cache/bench"))
    parser.add_argument("--features", action="store_true",
                        help="run the pipeline with the live-shopper feature operators")
    args = parser.parse_args()
    global CONFIG
    if args.features:
        CONFIG = PipelineConfig(features=FeaturesConfig())
    path = events_file(args.events, args.cache)
    results: dict[str, object] = {
        "benchmark": "foundation",
        "events_file": str(path),
        "bytes": path.stat().st_size,
        "repeats": args.repeats,
        "python": sys.version.split()[0],
        "features": args.features,
    }
    stages = {"read": bench_read, "decode": bench_decode,
              "decode_baskets": bench_decode_baskets,
              "decode_pipeline": bench_decode_pipeline, "run": bench_run}
    for name, fn in stages.items():
        seconds, n = timed(lambda fn=fn: fn(path), args.repeats)
        results[name] = {"events": n, "median_seconds": round(seconds, 3),
                         "events_per_second": round(n / seconds)}
    per_event_us = {name: round(1e6 / results[name]["events_per_second"], 3)  # type: ignore[index]
                    for name in stages}
    results["microseconds_per_event"] = per_event_us
    results["where_the_time_goes_us"] = {
        "reading_lines": per_event_us["read"],
        "decoding": round(per_event_us["decode"] - per_event_us["read"], 3),
        "engine_and_basket_tracker": round(per_event_us["decode_baskets"]
                                           - per_event_us["decode"], 3),
        "other_operators": round(per_event_us["decode_pipeline"]
                                 - per_event_us["decode_baskets"], 3),
        "writing_outputs_and_run_loop": round(per_event_us["run"]
                                              - per_event_us["decode_pipeline"], 3),
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
