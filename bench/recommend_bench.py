"""Recommendation quality and speed on the real Instacart sample, plus what the
recommender costs the pipeline.

1. ``shopstream evaluate`` on the full Instacart sessions CSV (fetched with
   ``shopstream datasets fetch instacart``): HR@K, MRR@K, coverage, latency for
   popularity, every strategy and the blend;
2. the default pipeline over simulated events with and without the recommendation
   operators, in the same process (the baseline is the run without them).

Prints one JSON object. Usage::

    .venv/bin/python bench/recommend_bench.py [--k 20] [--max-test-sessions N]
        [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shopstream.datasets.fetch import fetch
from shopstream.datasets.instacart import load_order_lines, session_events, write_sessions
from shopstream.datasets.registry import dataset_info
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import load_sessions
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl


def quality(k: int, max_test: int | None, work: Path) -> dict[str, object]:
    path = fetch(dataset_info("instacart"))
    csv_path = work / "instacart-sessions.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as sink:
        write_sessions(sink, session_events(load_order_lines(path)))
    report = evaluate(load_sessions(csv_path),
                      EvaluationConfig(k=k, max_test_sessions=max_test))
    recs = report["recommenders"]
    pop = recs["popularity"]["hr"] or float("nan")
    report["blend_vs_popularity_hr"] = round(recs["blend"]["hr"] / pop, 2)
    report["blend_vs_best_single_hr"] = round(recs["blend"]["hr"] / max(
        r["hr"] for name, r in recs.items() if name not in ("blend", "popularity")), 3)
    return report


def pipeline_cost(events: int, repeats: int, work: Path) -> dict[str, object]:
    src = work / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=max(1, events // 5), seed=7,
                                 end_ms=1_767_225_600_000), src, progress=False)
    lines = sum(1 for _ in src.open("rb"))
    rates: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(repeats):
        for label, cfg in (("without", PipelineConfig(recommendations=None)),
                           ("with", PipelineConfig())):
            started = time.perf_counter()
            EmbeddedRunner(default_topology(cfg), work / f"out-{label}").run(src)
            rates[label].append(lines / (time.perf_counter() - started))
    medians = {label: round(statistics.median(v)) for label, v in rates.items()}
    return {"events": lines, "repeats": repeats,
            "events_per_second_median": medians,
            "ratio_with_to_without": round(medians["with"] / medians["without"], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--max-test-sessions", type=int)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"evaluation": quality(args.k, args.max_test_sessions, work),
                  "pipeline": pipeline_cost(args.events, args.repeats, work)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
