"""CPU of the recommendation stages, per stage and for the whole pipeline; prints JSON.

Measures ``time.thread_time_ns`` (this thread's CPU, not wall time: the machine is
shared) around one in-process run of the default pipeline over a simulator file
(``recommend_bench.simulate``), and per stage around each operator's
``process_element`` / ``on_timer`` / ``process_broadcast``: microseconds of CPU per
input event. Medians over ``--repeats`` runs. The whole run's CPU minus the stages' is
the engine, the sources, the other stages and the sinks.

Usage::

    .venv/bin/python bench/rec_stage_cpu.py [--events 50000] [--repeats 3] [--no-stages]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from recommend_bench import simulate

from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

_METHODS = ("process_element", "on_timer", "process_broadcast")


def _wrap(totals: dict[str, int], label: str, inner: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.thread_time_ns

    def timed(*args: Any) -> Any:
        start = clock()
        out = inner(*args)
        if out:  # an iterator would run outside the clock: materialise it inside
            out = tuple(out)
        totals[label] += clock() - start
        return out

    return timed


def run_once(src: Path, out: Path, recommendations: bool, stages: bool) -> dict[str, Any]:
    cfg = PipelineConfig() if recommendations else PipelineConfig(recommendations=None)
    topology = default_topology(cfg)
    totals: dict[str, int] = defaultdict(int)
    if stages and recommendations:
        names = ("trending", "rec-learning", "rec-models", "recommendations")
        for stage in topology.stages:
            if stage.name in names:
                for method in _METHODS:
                    bound = getattr(stage.operator, method, None)
                    if bound is not None:
                        setattr(stage.operator, method,
                                _wrap(totals, f"{stage.name}.{method}", bound))
    start = time.thread_time_ns()
    EmbeddedRunner(topology, out).run(src)
    total = time.thread_time_ns() - start
    return {"total": total, **totals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-stages", action="store_true", help="whole run only")
    parser.add_argument("--without", action="store_true",
                        help="also the pipeline without recommendations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = simulate("simulator", args.events, work)
        lines = sum(1 for _ in src.open("rb"))
        runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for i in range(args.repeats):
            runs["with"].append(run_once(src, work / f"with-{i}", True, not args.no_stages))
            if args.without:
                runs["without"].append(run_once(src, work / f"without-{i}", False, False))
    result: dict[str, Any] = {"events": lines, "repeats": args.repeats,
                              "measured": "thread_time_ns CPU, median of repeats"}
    for label, entries in runs.items():
        keys = sorted({k for e in entries for k in e})
        us = {k: round(statistics.median(e.get(k, 0) for e in entries) / 1_000 / lines, 2)
              for k in keys}
        result[label] = {"us_cpu_per_event": us,
                         "events_per_cpu_second": round(1e6 / us["total"])}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
