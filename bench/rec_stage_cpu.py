"""CPU of the recommendation stages, per stage and for the whole pipeline; prints JSON.

Measures ``time.thread_time_ns`` (this thread's CPU, not wall time: the machine is
shared) around one in-process run of the default pipeline over a simulator file
(``recommend_bench.simulate``; ``--shape dense``: its dense shop), and per stage around
each operator's ``process_element`` / ``on_timer`` / ``process_broadcast``: microseconds
of CPU per input event. Medians over ``--repeats`` runs. The whole run's CPU minus the
stages' is the engine, the sources, the other stages and the sinks. The clock itself is
a system call (8.5 us a call on the shared machine of 2026-12-07): what it adds,
measured around a no-op before each run, is taken off every stage's sum and off the
total, once per wrapped call (``clock_ns_per_call`` in the JSON).

With ``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/rec-base
HEAD``) every repeat also runs that checkout's code on the same file, in a child process
with ``PYTHONPATH=DIR``, interleaved with this checkout's runs (children too), so both
see the same load; the JSON then has ``baseline`` beside ``with`` and the ratio of their
totals.

Usage::

    .venv/bin/python bench/rec_stage_cpu.py [--events 50000] [--shape simulator|dense]
        [--repeats 3] [--no-stages] [--without] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from recommend_bench import SHAPES, simulate

from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

_METHODS = ("process_element", "on_timer", "process_broadcast")


def _wrap(totals: dict[str, int], calls: dict[str, int], label: str,
          inner: Callable[..., Any]) -> Callable[..., Any]:
    clock = time.thread_time_ns

    def timed(*args: Any) -> Any:
        start = clock()
        out = inner(*args)
        if out:  # an iterator would run outside the clock: materialise it inside
            out = tuple(out)
        totals[label] += clock() - start
        calls[label] += 1
        return out

    return timed


def calibrate(n: int = 20_000) -> tuple[float, float]:
    """What the clock costs around a call that does nothing: the nanoseconds a wrapped
    no-op adds to its own label, and to the whole run. ``thread_time_ns`` is a system
    call (several microseconds on some virtual machines), so the per-stage sums and the
    total are corrected by these times the number of calls."""
    totals: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    noop = _wrap(totals, calls, "noop", lambda: ())
    start = time.thread_time_ns()
    for _ in range(n):
        noop()
    whole = (time.thread_time_ns() - start) / n
    return totals["noop"] / n, whole


def run_once(src: Path, out: Path, recommendations: bool, stages: bool) -> dict[str, Any]:
    cfg = PipelineConfig() if recommendations else PipelineConfig(recommendations=None)
    topology = default_topology(cfg)
    totals: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    if stages and recommendations:
        names = ("trending", "rec-learning", "rec-models", "recommendations")
        for stage in topology.stages:
            if stage.name in names:
                for method in _METHODS:
                    bound = getattr(stage.operator, method, None)
                    if bound is not None:
                        setattr(stage.operator, method,
                                _wrap(totals, calls, f"{stage.name}.{method}", bound))
    attributed, whole = calibrate() if stages and recommendations else (0.0, 0.0)
    start = time.thread_time_ns()
    EmbeddedRunner(topology, out).run(src)
    total = time.thread_time_ns() - start
    corrected = {label: max(0, round(ns - calls[label] * attributed))
                 for label, ns in totals.items()}
    total -= round(sum(calls.values()) * whole)
    return {"total": total, **corrected,
            "_clock": {"attributed_ns": round(attributed), "whole_ns": round(whole),
                       "calls": sum(calls.values())}}


def _child(checkout: Path, src: Path, out: Path, stages: bool) -> dict[str, Any]:
    """One run with recommendations of ``checkout``'s code, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    args = [sys.executable, str(Path(__file__).resolve()), "--one", str(src), str(out)]
    if not stages:
        args.append("--no-stages")
    done = subprocess.run(args, env=env, cwd=checkout, check=True, capture_output=True,
                          text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _summary(entries: list[dict[str, Any]], lines: int) -> dict[str, Any]:
    keys = sorted({k for e in entries for k in e if not k.startswith("_")})
    us = {k: round(statistics.median(e.get(k, 0) for e in entries) / 1_000 / lines, 2)
          for k in keys}
    out: dict[str, Any] = {"us_cpu_per_event": us,
                           "events_per_cpu_second": round(1e6 / us["total"])}
    clocks = [e["_clock"] for e in entries if e.get("_clock", {}).get("calls")]
    if clocks:
        out["clock_ns_per_call"] = {
            key: round(statistics.median(c[key] for c in clocks))
            for key in ("attributed_ns", "whole_ns")}
        out["wrapped_calls_per_event"] = round(clocks[0]["calls"] / lines, 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="simulator",
                        help="the simulator's shop, or a dense one (recommend_bench)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-stages", action="store_true", help="whole run only")
    parser.add_argument("--without", action="store_true",
                        help="also the pipeline without recommendations")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout to run interleaved, in child processes")
    parser.add_argument("--one", nargs=2, type=Path, metavar=("SRC", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    stages = not args.no_stages
    if args.one:
        print(json.dumps(run_once(args.one[0], args.one[1], True, stages)))
        return 0
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = simulate(args.shape, args.events, work)
        lines = sum(1 for _ in src.open("rb"))
        runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for i in range(args.repeats):
            if args.baseline is not None:
                runs["baseline"].append(_child(args.baseline.resolve(), src,
                                               work / f"base-{i}", stages))
                runs["with"].append(_child(here, src, work / f"with-{i}", stages))
            else:
                runs["with"].append(run_once(src, work / f"with-{i}", True, stages))
            if args.without:
                runs["without"].append(run_once(src, work / f"without-{i}", False, False))
    result: dict[str, Any] = {"shape": args.shape, "events": lines, "repeats": args.repeats,
                              "measured": "thread_time_ns CPU, median of repeats"}
    for label, entries in runs.items():
        result[label] = _summary(entries, lines)
    if args.baseline is not None:
        result["baseline_checkout"] = str(args.baseline)
        result["total_with_to_baseline"] = round(
            result["with"]["us_cpu_per_event"]["total"]
            / result["baseline"]["us_cpu_per_event"]["total"], 3)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
