"""What the Parquet lake costs the pipeline, and how fast the reports read it; prints JSON.

Run: ``.venv/bin/python bench/lake_bench.py [--events 50000] [--repeats 3]
[--report-rows 10000000] [--event-rows 10000000] [--reports-only]``

Measures, each as the median of ``--repeats`` runs in this one process (pyarrow and its
lazy imports warmed up first, so a one-off import is not charged to every event). Times
are the process's CPU time (``time.process_time``: every thread of this process, none of
the other processes sharing the machine), the pipeline thread's CPU time
(``time.thread_time``; the same, now that the lake writes on the pipeline's thread) and
wall-clock time:

* ``pipeline``: ``EmbeddedRunner`` with the default pipeline and checkpoints every
  ``--checkpoint-every`` events (and never by wall time, so that every run flushes the
  lake as often), JSONL outputs only;
* ``pipeline_lake``: the same with ``lake=LakeSink(...)`` (every stream and the input
  events to Parquet, flushed at each checkpoint);
* ``lake_cost``: the difference, per input event and as a share of the pipeline's time
  (the goal: under 10 %), and the time spent in the sink's flushes (batches to Arrow,
  Parquet encoding, fsync at commits): ``flush_seconds`` is wall time (waits for the
  disk's fsync and for the CPU on a loaded machine included), ``convert_cpu_seconds`` and
  ``write_cpu_seconds`` the pipeline thread's CPU turning records into Arrow tables and
  encoding, writing and committing the Parquet files;
* ``gc``: the cycle collector's collections per generation and their CPU seconds, in a
  run without and with the lake (records kept for their batch can cost collections);
* ``sink_alone``: a LakeSink fed alone what the pipeline handed it in one recorded run
  (CPU): the sink's own cost without the run-to-run noise of the whole pipeline;
* ``compact`` and the three ``report`` queries over the lake just written;
* ``reports_10m``: the three reports over ``--report-rows`` completed baskets (1-4 lines
  each, about 14 months, 200,000 customers, 5,000 products) written straight to the
  lake's layout and schema with numpy and pyarrow (not through the pipeline); wall time,
  median of ``--report-repeats``;
* ``reports_events``: the same three reports over a lake of ``--event-rows`` input events
  (the ``events`` stream: eight types, 200,000 shoppers, 5,000 products, about 14
  months) and the completed baskets such a run gives (``BASKETS_PER_EVENT``: 3,500 per
  46,893 events in the simulated week, about 746,000 for 10 M events), both written in
  bulk with pyarrow; the reports read only ``basket_completions``, so ``events_scan``
  adds a query that reads the events themselves (``EVENTS_SCAN``). Rows, files, bytes,
  wall time (median of ``--report-repeats``).

``--reports-only`` skips the pipeline runs (only ``reports_10m`` and ``reports_events``).
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


class _Collections:
    """The cycle collector's collections per generation and their CPU seconds."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.counts[info["generation"]] += 1
            self.seconds += time.process_time() - self._started


def run_once(src: Path, work: Path, config: RunnerConfig, lake: bool,
             ) -> tuple[float, float, float, LakeSink | None, _Collections]:
    """Process CPU, pipeline-thread CPU and wall seconds, the sink and the collections of
    one run."""
    shutil.rmtree(work, ignore_errors=True)
    sink = LakeSink(work / "lake") if lake else None
    runner = EmbeddedRunner(default_topology(), work / "out", config, work / "ck", lake=sink)
    gc.collect()
    collections = _Collections()
    gc.callbacks.append(collections)
    cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
    try:
        runner.run(src)
    finally:
        gc.callbacks.remove(collections)
    return (time.process_time() - cpu, time.thread_time() - thread,
            time.perf_counter() - wall, sink, collections)


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
        files += _write_days(root, stream, table, times, f"{first:09d}")
    return files


def _write_days(root: Path, stream: str, table: pa.Table, times: np.ndarray, tag: str) -> int:
    """Write ``table`` (rows in time order) into ``root``'s day partitions of ``stream``;
    return the files written."""
    days = times // _DAY_MS
    bounds = np.flatnonzero(np.diff(days)) + 1
    files = 0
    for lo, hi in zip([0, *bounds], [*bounds, len(times)], strict=True):
        day = np.datetime64(int(days[lo]), "D")
        folder = root / f"stream={stream}" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(lo, hi - lo), folder / f"part-bench-{tag}.parquet",
                       compression="zstd")
        files += 1
    return files


_EVENT_TYPES = ["VIEW_PRODUCT", "PAGE_VIEW", "ADD_TO_CART", "SEARCH", "BROWSE_CATEGORY",
                "REMOVE_FROM_CART", "ADD_TO_WISHLIST", "PURCHASE"]
_EVENT_SHARES = [0.45, 0.2, 0.1, 0.08, 0.08, 0.03, 0.03, 0.03]


def synthetic_events(root: Path, rows: int, chunk: int = 1_000_000, seed: int = 11) -> int:
    """Write ``rows`` input events to ``root``'s ``events`` stream in the lake's layout and
    schema (columns made with numpy and pyarrow in bulk, not through the pipeline): eight
    event types, 200,000 shoppers, 5,000 products, sessions of 8 events, about 14 months;
    a purchase carries one line in ``items``. Return the files written."""
    stream = "events"
    schema = SCHEMAS[stream].with_metadata({"shopstream.schema_version": str(SCHEMA_VERSION),
                                            "shopstream.stream": stream})
    item_type = schema.field("items").type
    rng = np.random.default_rng(seed)
    kinds = pa.array(_EVENT_TYPES)
    product_ids = pa.array([f"p{i}" for i in range(5_000)])
    product_names = pa.array([f"Product {i}" for i in range(5_000)])
    categories = pa.array([f"Category {i % 15}" for i in range(5_000)])
    prices = np.round(np.exp(rng.normal(3.5, 0.9, 5_000)), 0) - 0.01
    users = pa.array([f"u{i}" for i in range(200_000)])
    devices = pa.array(["desktop", "mobile", "tablet"])
    countries = pa.array(["US", "GB", "DE", "FR", "NL"])
    step_ms = 420 * _DAY_MS / rows
    files = 0
    for first in range(0, rows, chunk):
        n = min(chunk, rows - first)
        index = np.arange(first, first + n)
        kind = rng.choice(len(_EVENT_TYPES), n, p=_EVENT_SHARES)
        bought = pa.array(kind == _EVENT_TYPES.index("PURCHASE"))
        product = rng.zipf(1.3, n) % 5_000
        quantity = rng.integers(1, 4, n)
        price = pa.array(prices[product])
        times = _START_MS + (index * step_ms).astype(np.int64)
        ids = pc.cast(pa.array(index), pa.string())
        sessions = pc.cast(pa.array(index // 8), pa.string())
        none = pa.nulls(n, pa.string())
        lines = pa.StructArray.from_arrays(
            [pc.take(product_ids, product), pc.take(product_names, product),
             pc.take(categories, product), price, pa.array(quantity),
             pa.nulls(n, pa.string())], fields=list(item_type.value_type))
        # A purchase's list holds its line; the others are null lists of length 0.
        offsets = pa.array(np.concatenate([[0], np.cumsum(kind == _EVENT_TYPES.index(
            "PURCHASE"))]).astype(np.int32))
        items = pa.ListArray.from_arrays(offsets, lines.filter(bought), type=item_type,
                                         mask=pc.invert(bought))
        table = pa.Table.from_arrays([
            pc.take(kinds, kind), pa.array(times),
            pc.binary_join_element_wise("s", sessions, ""),
            pc.binary_join_element_wise("e", ids, ""),
            pc.take(users, rng.integers(0, 200_000, n)),
            pc.take(product_ids, product), pc.take(product_names, product),
            pc.take(categories, product), price, pa.array(quantity),
            pc.if_else(bought, pa.scalar("USD"), none),
            pc.if_else(bought, pc.binary_join_element_wise("o", ids, ""), none),
            pc.if_else(bought, pc.multiply(price, pa.array(quantity.astype(float))),
                       pa.nulls(n, pa.float64())),
            items, none, none,
            pc.take(devices, rng.integers(0, 3, n)), none,
            pc.take(countries, rng.integers(0, 5, n)), none, none, none,
        ], schema=schema)
        files += _write_days(root, stream, table, times, f"{first:09d}")
    return files


#: Completed baskets per input event in the bench's simulated week (3,500 for 46,893).
BASKETS_PER_EVENT = 3_500 / 46_893


def _timed(lake: Path, sql: str, repeats: int) -> dict[str, object]:
    seconds = []
    n = 0
    for _ in range(repeats):
        started = time.perf_counter()
        n = len(query(lake, sql)[1])
        seconds.append(time.perf_counter() - started)
    return {"seconds": round(statistics.median(seconds), 3), "rows": n}


def _lake_size(lake: Path) -> tuple[int, int]:
    paths = list(lake.rglob("*.parquet"))
    return len(paths), sum(p.stat().st_size for p in paths)


def reports_over(rows: int, repeats: int, work: Path) -> dict[str, object]:
    """The three reports' wall time over ``rows`` synthetic completed baskets."""
    lake = work / "lake-10m"
    started = time.perf_counter()
    files = synthetic_baskets(lake, rows)
    written = time.perf_counter() - started
    out: dict[str, object] = {"rows": rows, "files": files, "bytes": _lake_size(lake)[1],
                              "generate_seconds": round(written, 2)}
    for name, sql in REPORTS.items():
        out[name] = _timed(lake, sql, repeats)
    shutil.rmtree(lake)
    return out


#: A query that reads the events themselves (the reports do not): events, sessions and
#: shoppers per event type.
EVENTS_SCAN = ("SELECT event_type, count(*) AS events, count(DISTINCT session_id) AS sessions, "
               "count(DISTINCT user_id) AS shoppers FROM events GROUP BY 1 ORDER BY 2 DESC")


def reports_over_events(rows: int, repeats: int, work: Path) -> dict[str, object]:
    """The three reports' wall time over a lake of ``rows`` input events and the completed
    baskets such a run gives (``BASKETS_PER_EVENT``), and a scan of the events."""
    lake = work / "lake-events"
    baskets = round(rows * BASKETS_PER_EVENT)
    started = time.perf_counter()
    event_files = synthetic_events(lake, rows)
    basket_files = synthetic_baskets(lake, baskets)
    written = time.perf_counter() - started
    files, size = _lake_size(lake)
    out: dict[str, object] = {
        "event_rows": rows, "basket_rows": baskets, "event_files": event_files,
        "basket_files": basket_files, "files": files, "bytes": size,
        "generate_seconds": round(written, 2),
        "reports_read": "basket_completions (status = 'COMPLETED'); not events",
    }
    for name, sql in REPORTS.items():
        out[name] = _timed(lake, sql, repeats)
    out["events_scan"] = _timed(lake, EVENTS_SCAN, repeats)
    shutil.rmtree(lake)
    return out


def _reports_only(args: argparse.Namespace, work: Path) -> dict[str, object]:
    return {
        "bench": "lake reports",
        "measured": "wall seconds, median of --report-repeats (the machine is shared)",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "reports_10m": (reports_over(args.report_rows, args.report_repeats, work)
                        if args.report_rows else None),
        "reports_events": (reports_over_events(args.event_rows, args.report_repeats, work)
                           if args.event_rows else None),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--report-rows", type=int, default=10_000_000,
                        help="completed baskets for reports_10m (0: skip)")
    parser.add_argument("--event-rows", type=int, default=0,
                        help="input events for reports_events (0: skip)")
    parser.add_argument("--reports-only", action="store_true",
                        help="skip the pipeline runs: only the reports over generated lakes")
    parser.add_argument("--report-repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "shopstream-bench")
    args = parser.parse_args()
    if args.reports_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(_reports_only(args, Path(tmp)), indent=2))
        return 0
    src = events_file(args.events, args.cache)
    lines = sum(1 for _ in src.open("rb"))
    # Checkpoints by events only: the runner's default of one every 30 s of wall time
    # too added flushes (and files: 103 instead of 95) to a run slowed by a loaded machine.
    config = RunnerConfig(checkpoint_every_events=args.checkpoint_every,
                          checkpoint_every_seconds=1e9)
    to_table("dead-letter", [DeadLetter("s", "r", "x", "in", 1)])  # warm pyarrow's imports
    plain: list[float] = []
    with_lake: list[float] = []
    plain_wall: list[float] = []
    lake_wall: list[float] = []
    plain_thread: list[float] = []
    lake_thread: list[float] = []
    flush: list[float] = []
    convert_cpu: list[float] = []
    write_cpu: list[float] = []
    plain_gc: list[_Collections] = []
    lake_gc: list[_Collections] = []
    sink: LakeSink | None = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeats):
            cpu, thread, wall, _, collected = run_once(src, work / "plain", config, lake=False)
            plain_gc.append(collected)
            plain.append(cpu)
            plain_thread.append(thread)
            plain_wall.append(wall)
            cpu, thread, wall, sink, collected = run_once(src, work / "lake", config, lake=True)
            lake_gc.append(collected)
            with_lake.append(cpu)
            lake_thread.append(thread)
            lake_wall.append(wall)
            flush.append(sink.flush_seconds if sink else 0.0)
            convert_cpu.append(sink.convert_cpu_seconds if sink else 0.0)
            write_cpu.append(sink.write_cpu_seconds if sink else 0.0)
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
        by_events = (reports_over_events(args.event_rows, args.report_repeats, work)
                     if args.event_rows else None)
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
            "convert_cpu_seconds": round(statistics.median(convert_cpu), 3),
            "write_cpu_seconds": round(statistics.median(write_cpu), 3),
        },
        "gc": {
            "collections_by_generation": {"pipeline": plain_gc[-1].counts,
                                          "pipeline_lake": lake_gc[-1].counts},
            "seconds": {"pipeline": round(statistics.median(c.seconds for c in plain_gc), 3),
                        "pipeline_lake": round(statistics.median(c.seconds
                                                                 for c in lake_gc), 3)},
        },
        "lake": {"rows": sum(sink.rows.values()), "files": sink.files, "bytes": size,
                 "rows_by_stream": sink.rows},
        "compact": {"seconds": round(compact_seconds, 3), "files_before": done.files_before,
                    "files_after": done.files_after},
        "reports": reports,
        "reports_after_compact_seconds": reports_after,
        "reports_10m": big,
        "reports_events": by_events,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
