"""What recommendations cost and how good they are; prints one JSON object.

1. ``cost``: the default pipeline over simulated events of two shapes, the simulator's
   shop (1,500 products) and a dense one (300 products, 700 shoppers, short baskets),
   each at ``--events`` and at ten times as many (a history 10x longer): the time of
   every single recommendation inside the recommendation operator (median, p99; the
   clock around the call costs well under a microsecond; with ``--cpu-sample N``, and
   steadier on a shared machine, also the CPU time of every N-th one run again 20 times,
   which slows the run's events/s), the shopper state and
   published lists held at the end, and the pipeline's events/s;
2. ``throughput``: the default pipeline with and without the recommendation stages on
   the ``--events`` stream of both shapes, events per CPU second (and per wall second),
   median of ``--repeats`` interleaved runs in this one process (the baseline is the run
   without), and how much slower the dense shop runs with them;
3. ``evaluation``: ``shopstream evaluate --tune`` (static protocol, k = 20) on
   MovieLens-100k cut into sessions at 30-minute gaps and on the Instacart sample with
   each shopper's orders as one long session (fetched with ``shopstream datasets
   fetch``): HR@20 of every strategy and the blend, the blend's gain over the best of the
   two simple baselines (next items, session co-occurrence), and the wall time.

Usage::

    .venv/bin/python bench/recommend_bench.py [--events 100000] [--repeats 3]
        [--skip cost,throughput,evaluation] [--cpu-sample N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from shopstream.datasets.fetch import fetch
from shopstream.datasets.registry import dataset_info
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import load_sessions
from shopstream.operators.recommendations import RecommendationOperator
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl

END_MS = 1_767_225_600_000
#: With ``--cpu-sample N``, every N-th recommendation is run again CPU_REPEATS times under
#: the thread's CPU clock (a system call of several microseconds here: amortised).
CPU_REPEATS = 20
SHAPES: dict[str, dict[str, int]] = {"simulator": {}, "dense": {"products": 300, "shoppers": 700}}


def simulate(shape: str, events: int, work: Path) -> Path:
    path = work / f"{shape}-{events}.jsonl"
    if not path.exists():
        # About 5 events a session; a week of traffic per 100k events.
        days = max(1, round(7 * events / 100_000))
        shape_args: dict[str, Any] = dict(SHAPES[shape])
        write_jsonl(SimulationConfig(sessions=max(1, events // 5), seed=7, days=days,
                                     end_ms=END_MS, **shape_args), path, progress=False)
    return path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cost(shape: str, events: int, work: Path, cpu_sample: int = 0) -> dict[str, Any]:
    """Per-recommendation time inside the operator, and what the operator holds."""
    src = simulate(shape, events, work)
    lines = sum(1 for _ in src.open("rb"))
    topology = default_topology()
    operator = next(s.operator for s in topology.stages
                    if isinstance(s.operator, RecommendationOperator))
    times: list[float] = []
    cpu: list[float] = []
    inner = operator._recommend
    clock = time.perf_counter_ns
    cpu_clock = time.thread_time_ns
    held = [0]

    def timed(*args: Any) -> Any:
        start = clock()
        out = inner(*args)
        times.append((clock() - start) / 1_000)
        if cpu_sample and len(times) % cpu_sample == 0:
            # The same request again (side-effect free) under this thread's CPU clock:
            # a figure the neighbours of a shared machine do not inflate.
            started = cpu_clock()
            for _ in range(CPU_REPEATS):
                inner(*args)
            cpu.append((cpu_clock() - started) / CPU_REPEATS / 1_000)
        if len(times) % 10_000 == 0:  # shoppers held in state now (args[-1]: the context)
            held[0] = max(held[0], len(args[-1].backend.snapshot().get("shopper", {})))
        return out

    operator._recommend = timed  # type: ignore[method-assign,assignment]
    runner = EmbeddedRunner(topology, work / f"out-{shape}-{events}")
    started = time.perf_counter()
    runner.run(src)
    seconds = time.perf_counter() - started
    return {
        "events": lines, "recommendations": len(times),
        "us_per_recommendation": {"median": round(statistics.median(times), 1),
                                  "p99": round(_percentile(times, 0.99), 1)},
        "us_cpu_per_recommendation": {"median": round(statistics.median(cpu), 1),
                                      "p99": round(_percentile(cpu, 0.99), 1),
                                      "sampled": len(cpu)} if cpu else None,
        "events_per_second": round(lines / seconds),
        "shoppers_held_max": held[0], "published_anchors": operator.lists.anchors(),
    }


def throughput(events: int, repeats: int, work: Path) -> dict[str, Any]:
    """The default pipeline with and without the recommendation stages, on both shapes:
    events per second of CPU (``time.process_time``: the machine may be shared, so wall
    time would measure the neighbours too) and of wall time, medians of ``repeats``
    interleaved runs."""
    out: dict[str, Any] = {"measured": "process_time CPU and wall, median of repeats"}
    for shape in SHAPES:
        src = simulate(shape, events, work)
        lines = sum(1 for _ in src.open("rb"))
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        wall: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(repeats):
            for label, cfg in (("without", PipelineConfig(recommendations=None)),
                               ("with", PipelineConfig())):
                started, clock = time.perf_counter(), time.process_time()
                EmbeddedRunner(default_topology(cfg), work / f"out-{label}").run(src)
                cpu[label].append(lines / (time.process_time() - clock))
                wall[label].append(lines / (time.perf_counter() - started))
        per_cpu = {label: round(statistics.median(v)) for label, v in cpu.items()}
        out[shape] = {
            "events": lines, "repeats": repeats,
            "events_per_cpu_second_median": per_cpu,
            "events_per_wall_second_median": {label: round(statistics.median(v))
                                              for label, v in wall.items()},
            "ratio_with_to_without": round(per_cpu["with"] / per_cpu["without"], 3)}
    if "dense" in out and "simulator" in out:
        out["dense_slowdown_with"] = round(
            out["simulator"]["events_per_cpu_second_median"]["with"]
            / out["dense"]["events_per_cpu_second_median"]["with"], 3)
    return out


def quality(name: str, csv_name: str) -> dict[str, Any]:
    path = fetch(dataset_info(name)).parent / csv_name
    started = time.perf_counter()
    report = evaluate(load_sessions(path), EvaluationConfig(tune=True))
    seconds = time.perf_counter() - started
    recs = report["recommenders"]
    baseline = max(recs["next_item"]["hr"], recs["co_occurrence"]["hr"])
    best_single = max((r["hr"], n) for n, r in recs.items() if n != "blend")
    return {
        "sessions": report["sessions"], "predictions": report["predictions"],
        "hr20": {n: r["hr"] for n, r in sorted(recs.items(), key=lambda e: -e[1]["hr"])},
        "mrr20": {n: r["mrr"] for n, r in recs.items()},
        "blend_ms": {"median": recs["blend"]["latency_ms_median"],
                     "p99": recs["blend"]["latency_ms_p99"]},
        "blend_vs_best_simple_baseline": round(recs["blend"]["hr"] / baseline, 3)
        if baseline else None,
        "best_single": {"name": best_single[1], "hr": best_single[0]},
        "tuning": report["tuning"], "rules": report["rules"],
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip")
    parser.add_argument("--cpu-sample", type=int, default=0, metavar="N",
                        help="cost: also the CPU time of every N-th recommendation")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "cost" not in skip:
            result["cost"] = {shape: {str(n): cost(shape, n, work, args.cpu_sample)
                                      for n in (args.events, 10 * args.events)}
                              for shape in SHAPES}
            for entry in result["cost"].values():
                small, large = (entry[str(n)]["us_per_recommendation"]["median"]
                                for n in (args.events, 10 * args.events))
                entry["median_ratio_10x_history"] = round(large / small, 2)
        if "throughput" not in skip:
            result["throughput"] = throughput(args.events, args.repeats, work)
        if "evaluation" not in skip:
            result["evaluation"] = {
                "movielens-100k sessions": quality("movielens-100k", "movielens-sessions.csv"),
                "instacart shoppers": quality("instacart", "instacart-user-sessions.csv")}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
