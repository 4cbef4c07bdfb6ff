"""What the Parquet lake costs the pipeline, and how fast the reports read it; prints JSON.

Run: ``.venv/bin/python bench/lake_bench.py [--events 50000] [--repeats 3]``

Measures, each as the median of ``--repeats`` runs in this one process (pyarrow and its
lazy imports warmed up first, so a one-off import is not charged to every event):

* ``pipeline``: ``EmbeddedRunner`` with the default pipeline and checkpoints every
  ``--checkpoint-every`` events, JSONL outputs only;
* ``pipeline_lake``: the same with ``lake=LakeSink(...)`` (every stream and the input
  events to Parquet, flushed at each checkpoint);
* ``lake_cost``: the difference, per input event and as a share of the pipeline's time
  (the goal: under 10 %), and the sink's own flush time (Arrow conversion, Parquet, fsync);
* ``compact`` and the three ``report`` queries over the lake just written.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from foundation_bench import events_file  # the same cached simulated week (bench/ is on the path)

from shopstream.events.records import DeadLetter
from shopstream.lake.compact import compact
from shopstream.lake.query import REPORTS, query
from shopstream.lake.schemas import to_table
from shopstream.lake.sink import LakeSink
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig


def run_once(src: Path, work: Path, config: RunnerConfig,
             lake: bool) -> tuple[float, LakeSink | None]:
    shutil.rmtree(work, ignore_errors=True)
    sink = LakeSink(work / "lake") if lake else None
    runner = EmbeddedRunner(default_topology(), work / "out", config, work / "ck", lake=sink)
    gc.collect()
    started = time.perf_counter()
    runner.run(src)
    return time.perf_counter() - started, sink


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "shopstream-bench")
    args = parser.parse_args()
    src = events_file(args.events, args.cache)
    lines = sum(1 for _ in src.open("rb"))
    config = RunnerConfig(checkpoint_every_events=args.checkpoint_every)
    to_table("dead-letter", [DeadLetter("s", "r", "x", "in", 1)])  # warm pyarrow's imports
    plain: list[float] = []
    with_lake: list[float] = []
    flush: list[float] = []
    sink: LakeSink | None = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeats):
            plain.append(run_once(src, work / "plain", config, lake=False)[0])
            seconds, sink = run_once(src, work / "lake", config, lake=True)
            with_lake.append(seconds)
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
    base, lake = statistics.median(plain), statistics.median(with_lake)
    flushed = statistics.median(flush)
    print(json.dumps({
        "bench": "lake",
        "python": sys.version.split()[0],
        "input_lines": lines,
        "checkpoint_every": args.checkpoint_every,
        "repeats": args.repeats,
        "pipeline_seconds": round(base, 3),
        "pipeline_lake_seconds": round(lake, 3),
        "lake_cost": {
            "seconds": round(lake - base, 3),
            "us_per_event": round((lake - base) / lines * 1e6, 2),
            "share_of_pipeline": round((lake - base) / base, 4),
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
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
