"""Cost of trend detection; prints JSON.

Run: ``.venv/bin/python bench/trends_bench.py [--events 100000] [--repeats 3]``

* ``reading``: CPU time (``time.thread_time_ns``) of one
  :func:`shopstream.profiles.trends.read_trend` on a full 28-day ring of a busy product
  (672 hourly buckets, about 12 views an hour with a weekly cycle, so the key's own weekly
  profile is estimated too): median of 200 readings.
* ``pipeline``: decoded simulated events (a week of traffic, cached under the system temp
  directory) through the embedded engine with the default pipeline, with and without the
  trend stages (``PipelineConfig(trends=TrendsConfig())``; the default configuration has
  none, so before this was fixed both runs were without them): median CPU seconds of
  ``--repeats`` runs in this thread, events per CPU second, how many trend readings were
  emitted, and the trend stages' share (``trend_cost``).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from shopstream.connectors.files import JsonlSource
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.profiles.seasonality import DAY_MS, HOUR_MS, WeeklyProfile
from shopstream.profiles.trends import ADD, VIEW, ActivitySeries, TrendsConfig, read_trend
from shopstream.runners.embedded.engine import Engine
from shopstream.sim import SimulationConfig, write_jsonl

START_MS = 1_700_006_400_000


def bench_reading() -> dict[str, object]:
    cfg = TrendsConfig()
    week = WeeklyProfile.normalised([1, 0.9, 0.9, 1, 1.2, 1.8, 1.6],
                                    [0.2] * 7 + [1.2] * 12 + [2.0] * 5)
    rng = np.random.default_rng(1)
    series = ActivitySeries()
    for hour in range(28 * 24):
        ts = START_MS + hour * HOUR_MS
        series.add(VIEW, 1 + int(rng.poisson(12 * week.factor(ts))), ts, cfg)
        series.add(ADD, int(rng.poisson(1.0)), ts, cfg)
    end = (START_MS + 28 * DAY_MS) // HOUR_MS - 1
    cpu = []
    reading = None
    for _ in range(200):
        t0 = time.thread_time_ns()
        reading = read_trend(series, end, cfg)
        cpu.append((time.thread_time_ns() - t0) / 1e6)
    assert reading is not None
    return {"buckets": len(series.buckets), "cpu_ms_median": round(statistics.median(cpu), 3),
            "label": str(reading.label), "seasonality": reading.seasonality}


def events_file(count: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"shopstream-trends-bench-{count}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_jsonl(SimulationConfig(sessions=max(1, round(count / 5.42)), seed=7, days=7,
                                     end_ms=1_767_225_600_000), tmp, progress=False)
        tmp.rename(path)
    return path


def run(events: list[object], config: PipelineConfig) -> tuple[float, int]:
    readings = [0]

    def sink(out: object) -> None:
        if getattr(out, "stream", None) in (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS):
            readings[0] += 1

    gc.collect()
    engine = Engine(default_topology(config), 5_000, sink)
    t0 = time.thread_time_ns()
    for n, event in enumerate(events, 1):
        engine.offer(event)  # type: ignore[arg-type]
        if not n & 255:
            engine.drain()
    engine.finish()
    return (time.thread_time_ns() - t0) / 1e9, readings[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    decode = EventDecoder().decode
    events: list[object] = [decode(raw) for raw, _ in JsonlSource(events_file(args.events))]
    result: dict[str, object] = {"bench": "trends", "events": len(events),
                                 "reading": bench_reading()}
    medians: dict[str, float] = {}
    for name, config in (("pipeline_without_trends", PipelineConfig(trends=None)),
                         ("pipeline_with_trends", PipelineConfig(trends=TrendsConfig()))):
        runs = [run(events, config) for _ in range(args.repeats)]
        cpu = medians[name] = statistics.median(r[0] for r in runs)
        result[name] = {"cpu_s_median": round(cpu, 2),
                        "events_per_cpu_s": round(len(events) / cpu),
                        "trend_readings": runs[0][1]}
    without, with_ = medians["pipeline_without_trends"], medians["pipeline_with_trends"]
    result["trend_cost"] = {"cpu_s": round(with_ - without, 2),
                            "share_of_pipeline": round((with_ - without) / without, 3)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
