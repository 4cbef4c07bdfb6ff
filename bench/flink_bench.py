"""Embedded runner against the Flink runner on the same simulated input; prints JSON.

Run: ``.venv/bin/python bench/flink_bench.py [--sessions 10000] [--parallelism 1 2]``
(needs ``pip install -e '.[flink]'`` and Java 17).

For each pipeline (``baskets``: the basket tracker alone; ``pipeline``: the default
pipeline without the recommender; ``default``: the default pipeline, the recommender and
its broadcast inputs included) it runs:

* the embedded runner over the file (output files included): lines/s;
* the Flink runner on a local mini-cluster at each ``--parallelism``, in this process
  (one JVM; a small warm-up job first), twice: on a tenth of the input and on all of it.
  ``job_lines_per_s`` is lines over the whole job (mini-cluster start, submission and
  teardown included); ``marginal_lines_per_s`` is the extra lines over the extra seconds
  between the two sizes, the steady-state rate without the fixed cost;
  ``lines_per_cpu_s`` is lines over the JVM's CPU seconds during the full job (Java,
  its JIT compiler and the embedded Python interpreter), the rate to compare across runs
  on a machine shared with other work. ``cpu_split`` divides those seconds by thread:
  ``operators`` (the job's task threads, where the embedded Python runs each operator
  and Flink moves its records), ``jit`` (the JVM's compiler threads: a one-off cost of
  a fresh JVM, large on a job this short) and ``other``; ``lines_per_operator_cpu_s``
  (lines over the task threads' seconds) is the steady-state rate per slot.

Every Flink run's outputs are checked against the embedded runner's, per stream, as
multisets (``outputs_equal``; ``differing_lines`` counts the lines of each unequal stream
found on one side only). The JVM's peak resident memory is read from /proc.

These local jobs take no checkpoints, so the stages hold their hot state in Python
(``FlinkConfig.hold_in_python``); ``--state-in-flink`` measures the path a checkpointed
or submitted job takes instead (every value and the event-time buffers in Flink state).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.runners.flink import FlinkConfig, FlinkRunner
from shopstream.runners.flink.support import fuse
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.topology import Topology


def topologies() -> dict[str, Topology]:
    """Fresh topologies (operators keep broadcast input in attributes: no run may share
    them with another)."""
    full = default_topology(PipelineConfig(recommendations=None))
    baskets = Topology(tuple(s for s in full.stages if s.name == "baskets"), full.sink_streams)
    return {"baskets": baskets, "pipeline": full, "default": default_topology()}


def first_lines(source: Path, target: Path, count: int) -> Path:
    with open(source, "rb") as src, open(target, "wb") as dst:
        for n, line in enumerate(src):
            if n >= count:
                break
            dst.write(line)
    return target


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def multisets(directory: Path) -> dict[str, collections.Counter[str]]:
    return {p.stem: collections.Counter(p.read_text().splitlines())
            for p in sorted(directory.glob("*.jsonl"))}


def java_cpu_seconds() -> float:
    """CPU time (user + system) of the JVM(s) this process started, the embedded Python
    interpreter of thread mode included: less sensitive than wall time to other work on
    a shared machine."""
    total = 0.0
    me = str(os.getpid())
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class ThreadCpu:
    """CPU seconds of the JVM's threads while a job runs, by kind: ``operators`` (task
    threads: Flink names them after their operators, ``baskets+abandonment (1/1)#0``,
    ``Source: events-file -> ...``, ``jsonl-writer (1/1)#0``; Linux keeps the first 15
    characters), ``jit`` (``C1``/``C2 CompilerThread``) and ``other``. Sampled every half
    second from /proc (a task thread ends with its job, so its last sample is its
    total)."""

    def __init__(self, topology: Topology) -> None:
        self._names = ("Source: ", "jsonl-writer (", *(
            "+".join(topology.stages[i].name for i in group) + " ("
            for group in fuse(topology)))
        pids = [e.name for e in Path("/proc").iterdir()
                if e.name.isdigit() and _parent(e) == str(os.getpid())]
        self._tasks = [Path(f"/proc/{pid}/task") for pid in pids]
        self._start = self._sample()
        self._last = dict(self._start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[str, tuple[str, float]]:
        tick = os.sysconf("SC_CLK_TCK")
        seen = {}
        for tasks in self._tasks:
            for entry in tasks.iterdir() if tasks.exists() else ():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                seen[entry.name] = (name, (int(fields[11]) + int(fields[12])) / tick)
        return seen

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._last.update(self._sample())

    def _task(self, name: str) -> bool:
        return any(name.startswith(n) or (len(name) == 15 and n.startswith(name))
                   for n in self._names)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._last.update(self._sample())
        split = {"operators": 0.0, "jit": 0.0, "other": 0.0}
        for tid, (name, seconds) in self._last.items():
            used = seconds - self._start.get(tid, (name, 0.0))[1]
            kind = ("jit" if "CompilerThre" in name
                    else "operators" if self._task(name) else "other")
            split[kind] += used
        return {kind: round(seconds, 2) for kind, seconds in split.items()}


def _parent(process: Path) -> str | None:
    try:
        return (process / "stat").read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return None


def java_peak_rss_mb() -> float | None:
    """Peak resident memory of the JVM(s) this process started (PyFlink's gateway)."""
    peak = None
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() != me or b"java" not in cmdline:
            continue
        hwm = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
        peak = max(peak or 0.0, hwm)
    return round(peak, 1) if peak is not None else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pipelines", nargs="+", default=["baskets", "pipeline"])
    parser.add_argument("--state-in-flink", action="store_true",
                        help="keep all state in Flink, as a snapshotted job does")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="flink-bench-"))
    big = work / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=args.sessions, seed=1, end_ms=1_767_600_000_000,
                                 disorder_ms=3_000), big, progress=False)
    lines = count_lines(big)
    small = first_lines(big, work / "small.jsonl", max(1, lines // 10))
    small_lines = count_lines(small)
    tiny = first_lines(big, work / "tiny.jsonl", 200)
    started = time.perf_counter()
    # Warm-up: the first job in a JVM pays for class loading and the interpreter start.
    FlinkRunner(topologies()["baskets"], work / "warm-up").run(tiny)
    warm_up_s = time.perf_counter() - started
    results: dict[str, Any] = {}
    for name in args.pipelines:
        embedded = EmbeddedRunner(topologies()[name], work / f"{name}-embedded").run(big)
        expected = multisets(work / f"{name}-embedded")
        entry: dict[str, Any] = {
            "embedded": {"lines_per_s": round(embedded.events_per_second),
                         "seconds": round(embedded.seconds, 2)},
        }
        for p in args.parallelism:
            config = FlinkConfig(parallelism=p, hold_in_python=not args.state_in_flink)
            part = FlinkRunner(topologies()[name], work / f"{name}-flink{p}-small",
                               config).run(small)
            cpu_before = java_cpu_seconds()
            threads = ThreadCpu(topologies()[name])
            full = FlinkRunner(topologies()[name], work / f"{name}-flink{p}", config).run(big)
            cpu_s = java_cpu_seconds() - cpu_before
            split = threads.stop()
            extra_s = full.job_seconds - part.job_seconds
            got = multisets(work / f"{name}-flink{p}")
            entry[f"flink_p{p}"] = {
                "job_seconds": round(full.job_seconds, 2),
                "job_lines_per_s": round(full.events_per_second),
                "small_job_seconds": round(part.job_seconds, 2),
                "jvm_cpu_seconds": round(cpu_s, 2),
                "lines_per_cpu_s": round(lines / cpu_s) if cpu_s > 0 else None,
                "cpu_split": split,
                "lines_per_operator_cpu_s": round(lines / split["operators"])
                if split["operators"] > 0 else None,
                "marginal_lines_per_s": round((lines - small_lines) / extra_s)
                if extra_s > 0 else None,
                "outputs_equal": got == expected,
                "differing_lines": {
                    stream: sum(((lines_ - got.get(stream, collections.Counter()))
                                 + (got.get(stream, collections.Counter()) - lines_)).values())
                    for stream, lines_ in expected.items() if got.get(stream) != lines_},
            }
        results[name] = entry
    print(json.dumps({
        "bench": "flink",
        "lines": lines,
        "small_lines": small_lines,
        "sessions": args.sessions,
        "first_job_seconds": round(warm_up_s, 2),
        "jvm_peak_rss_mb": java_peak_rss_mb(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "load_average_1m_at_start": round(load_before, 2),
        "state_in_flink": args.state_in_flink,
        "python": platform.python_version(),
        "pyflink": _version("apache-flink"),
        "execution_mode": "thread",
        "results": results,
    }, indent=2))
    return 0


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
