"""What the Parquet lake costs the pipeline, and how fast the reports read it; prints JSON.

Run: ``.venv/bin/python bench/lake_bench.py [--events 50000] [--repeats 3]
[--report-rows 10000000]``

Measures, each as the median of ``--repeats`` runs in this one process (pyarrow and its
lazy imports warmed up first, so a one-off import is not charged to every event). Times
are the process's CPU time (``time.process_time``: every thread of this process, none of
the other processes sharing the machine), the pipeline thread's CPU time
(``time.thread_time``: without the lake's writer thread, when the sink is given one with
``writer_thread=True``) and wall-clock time:

* ``pipeline``: ``EmbeddedRunner`` with the default pipeline and checkpoints every
  ``--checkpoint-every`` events, JSONL outputs only;
* ``pipeline_lake``: the same with ``lake=LakeSink(...)`` (every stream and the input
  events to Parquet, flushed at each checkpoint);
* ``lake_cost``: the difference, per input event and as a share of the pipeline's time
  (the goal: under 10 %), and the time the pipeline thread spent in the sink's flushes
  (batches to Arrow, handing them to the writer, waiting for it and fsync at commits);
* ``sink_alone``: a LakeSink fed alone what the pipeline handed it in one recorded run
  (CPU): the sink's own cost without the run-to-run noise of the whole pipeline;
* ``compact`` and the three ``report`` queries over the lake just written;
* ``reports_10m``: the three reports over ``--report-rows`` completed baskets (1-4 lines
  each, about 14 months, 200,000 customers, 5,000 products) written straight to the
  lake's layout and schema with numpy and pyarrow (not through the pipeline); wall time,
  median of ``--report-repeats``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from foundation_bench import events_file  # the same cached simulated week (bench/ is on the path)

from shopstream.events.records import DeadLetter
from shopstream.lake.columns import to_table
from shopstream.lake.compact import compact
from shopstream.lake.query import REPORTS, query
from shopstream.lake.schemas import SCHEMA_VERSION, SCHEMAS
from shopstream.lake.sink import LakeSink
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig


class _Recorder:
    """A lake stand-in that records what the runner hands the sink, to replay it alone."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, state: object, resume: bool, checkpoint_dir: Path | None) -> None:
        pass

    def write(self, out: object) -> None:
        self.calls.append(("o", out))

    def write_event(self, event: object) -> None:
        self.calls.append(("e", event))

    def commit(self) -> None:
        self.calls.append(("c", None))

    def close(self) -> None:
        pass


def sink_alone(src: Path, work: Path, config: RunnerConfig, repeats: int) -> float:
    """Median CPU seconds of a LakeSink fed, alone, what the pipeline gave it in one run
    (events, outputs and checkpoints in their order): the sink's own cost, free of the
    pipeline's noise (but not of the garbage collection it adds to the pipeline)."""
    recorder = _Recorder()
    EmbeddedRunner(default_topology(), work / "rec-out", config, work / "rec-ck",
                   lake=recorder).run(src)
    seconds = []
    for n in range(repeats):
        sink = LakeSink(work / f"alone-{n}")
        sink.start(None, resume=False, checkpoint_dir=work / f"alone-ck-{n}")
        gc.collect()
        started = time.process_time()
        for kind, item in recorder.calls:
            if kind == "o":
                sink.write(item)  # type: ignore[arg-type]
            elif kind == "e":
                sink.write_event(item)  # type: ignore[arg-type]
            else:
                sink.commit()
        sink.close()
        seconds.append(time.process_time() - started)
    return statistics.median(seconds)


def run_once(src: Path, work: Path, config: RunnerConfig,
             lake: bool) -> tuple[float, float, float, LakeSink | None]:
    """Process CPU, pipeline-thread CPU and wall seconds, and the sink of one run."""
    shutil.rmtree(work, ignore_errors=True)
    sink = LakeSink(work / "lake") if lake else None
    runner = EmbeddedRunner(default_topology(), work / "out", config, work / "ck", lake=sink)
    gc.collect()
    cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
    runner.run(src)
    return (time.process_time() - cpu, time.thread_time() - thread,
            time.perf_counter() - wall, sink)


_DAY_MS = 86_400_000
_START_MS = 1_735_689_600_000  # 2025-01-01


def synthetic_baskets(root: Path, rows: int, chunk: int = 1_000_000, seed: int = 7) -> int:
    """Write ``rows`` completed baskets to ``root`` in the lake's layout; return files."""
    stream = "basket-completions"
    schema = SCHEMAS[stream].with_metadata({"shopstream.schema_version": str(SCHEMA_VERSION),
                                            "shopstream.stream": stream})
    items_type = schema.field("items").type
    rng = np.random.default_rng(seed)
    product_ids = pa.array([f"p{i}" for i in range(5_000)])
    product_names = pa.array([f"Product {i}" for i in range(5_000)])
    categories = pa.array([f"Category {i % 15}" for i in range(5_000)])
    prices = np.round(np.exp(rng.normal(3.5, 0.9, 5_000)), 0) - 0.01
    users = pa.array([f"u{i}" for i in range(200_000)])
    step_ms = 420 * _DAY_MS / rows
    files = 0
    for first in range(0, rows, chunk):
        n = min(chunk, rows - first)
        index = np.arange(first, first + n)
        lines = rng.integers(1, 5, n)
        offsets = np.concatenate([[0], np.cumsum(lines)]).astype(np.int32)
        product = rng.zipf(1.3, int(offsets[-1])) % 5_000
        quantity = rng.integers(1, 4, int(offsets[-1]))
        item = pa.StructArray.from_arrays(
            [pc.take(product_ids, product), pc.take(product_names, product),
             pc.take(categories, product), pa.array(prices[product]), pa.array(quantity)],
            fields=list(items_type.value_type))
        totals = np.add.reduceat(prices[product] * quantity, offsets[:-1])
        times = _START_MS + (index * step_ms).astype(np.int64)
        ids = pc.cast(pa.array(index), pa.string())
        table = pa.Table.from_arrays([
            pc.binary_join_element_wise("s", ids, ""), pc.take(users, rng.integers(0, 200_000, n)),
            pa.array(np.full(n, "COMPLETED", dtype=object), pa.string()),
            pa.ListArray.from_arrays(pa.array(offsets), item, type=items_type),
            pa.array(np.round(totals, 2)), pa.array(times),
            pc.binary_join_element_wise("o", ids, ""),
            pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)),
                                     pa.array([], pa.string())),
            pc.binary_join_element_wise("e", ids, ""),
            pa.array(np.full(n, "desktop", dtype=object), pa.string()),
            pa.array(np.full(n, "USD", dtype=object), pa.string()),
        ], schema=schema)
        days = times // _DAY_MS
        bounds = np.flatnonzero(np.diff(days)) + 1
        for lo, hi in zip([0, *bounds], [*bounds, n], strict=True):
            day = np.datetime64(int(days[lo]), "D")
            folder = root / f"stream={stream}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(lo, hi - lo), folder / f"part-bench-{first:09d}.parquet",
                           compression="zstd")
            files += 1
    return files


def reports_over(rows: int, repeats: int, work: Path) -> dict[str, object]:
    """The three reports' wall time over ``rows`` synthetic completed baskets."""
    lake = work / "lake-10m"
    started = time.perf_counter()
    files = synthetic_baskets(lake, rows)
    written = time.perf_counter() - started
    out: dict[str, object] = {"rows": rows, "files": files,
                              "bytes": sum(p.stat().st_size for p in lake.rglob("*.parquet")),
                              "generate_seconds": round(written, 2)}
    for name, sql in REPORTS.items():
        seconds = []
        n = 0
        for _ in range(repeats):
            started = time.perf_counter()
            n = len(query(lake, sql)[1])
            seconds.append(time.perf_counter() - started)
        out[name] = {"seconds": round(statistics.median(seconds), 3), "rows": n}
    shutil.rmtree(lake)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--report-rows", type=int, default=10_000_000,
                        help="completed baskets for reports_10m (0: skip)")
    parser.add_argument("--report-repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "shopstream-bench")
    args = parser.parse_args()
    src = events_file(args.events, args.cache)
    lines = sum(1 for _ in src.open("rb"))
    config = RunnerConfig(checkpoint_every_events=args.checkpoint_every)
    to_table("dead-letter", [DeadLetter("s", "r", "x", "in", 1)])  # warm pyarrow's imports
    plain: list[float] = []
    with_lake: list[float] = []
    plain_wall: list[float] = []
    lake_wall: list[float] = []
    plain_thread: list[float] = []
    lake_thread: list[float] = []
    flush: list[float] = []
    sink: LakeSink | None = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeats):
            cpu, thread, wall, _ = run_once(src, work / "plain", config, lake=False)
            plain.append(cpu)
            plain_thread.append(thread)
            plain_wall.append(wall)
            cpu, thread, wall, sink = run_once(src, work / "lake", config, lake=True)
            with_lake.append(cpu)
            lake_thread.append(thread)
            lake_wall.append(wall)
            flush.append(sink.flush_seconds if sink else 0.0)
        assert sink is not None
        lake_dir = work / "lake" / "lake"
        size = sum(p.stat().st_size for p in lake_dir.rglob("*.parquet"))
        reports = {}
        for name, sql in REPORTS.items():
            started = time.perf_counter()
            _, rows = query(lake_dir, sql)
            reports[name] = {"seconds": round(time.perf_counter() - started, 4),
                             "rows": len(rows)}
        started = time.perf_counter()
        done = compact(lake_dir)
        compact_seconds = time.perf_counter() - started
        reports_after = {}
        for name, sql in REPORTS.items():
            started = time.perf_counter()
            query(lake_dir, sql)
            reports_after[name] = round(time.perf_counter() - started, 4)
        alone = sink_alone(src, work, config, args.repeats)
        big = (reports_over(args.report_rows, args.report_repeats, work)
               if args.report_rows else None)
    base, lake = statistics.median(plain), statistics.median(with_lake)
    base_wall, lake_wall_s = statistics.median(plain_wall), statistics.median(lake_wall)
    base_thread, lake_thread_s = statistics.median(plain_thread), statistics.median(lake_thread)
    flushed = statistics.median(flush)
    print(json.dumps({
        "bench": "lake",
        "python": sys.version.split()[0],
        "input_lines": lines,
        "checkpoint_every": args.checkpoint_every,
        "repeats": args.repeats,
        "measured": "process CPU seconds (time.process_time), pipeline-thread CPU seconds "
                    "(time.thread_time) and wall seconds, medians of repeats (the machine "
                    "is shared)",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "pipeline_seconds": round(base, 3),
        "pipeline_lake_seconds": round(lake, 3),
        "pipeline_thread_seconds": round(base_thread, 3),
        "pipeline_lake_thread_seconds": round(lake_thread_s, 3),
        "pipeline_wall_seconds": round(base_wall, 3),
        "pipeline_lake_wall_seconds": round(lake_wall_s, 3),
        "lake_cost": {
            "seconds": round(lake - base, 3),
            "us_per_event": round((lake - base) / lines * 1e6, 2),
            "share_of_pipeline": round((lake - base) / base, 4),
            "thread_share_of_pipeline": round((lake_thread_s - base_thread) / base_thread, 4),
            "wall_share_of_pipeline": round((lake_wall_s - base_wall) / base_wall, 4),
            "sink_alone_cpu_seconds": round(alone, 3),
            "sink_alone_us_per_event": round(alone / lines * 1e6, 2),
            "sink_alone_share_of_pipeline": round(alone / base, 4),
            "flush_seconds": round(flushed, 3),
            "flush_us_per_event": round(flushed / lines * 1e6, 2),
            "flush_share_of_pipeline": round(flushed / base, 4),
        },
        "lake": {"rows": sum(sink.rows.values()), "files": sink.files, "bytes": size,
                 "rows_by_stream": sink.rows},
        "compact": {"seconds": round(compact_seconds, 3), "files_before": done.files_before,
                    "files_after": done.files_after},
        "reports": reports,
        "reports_after_compact_seconds": reports_after,
        "reports_10m": big,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
