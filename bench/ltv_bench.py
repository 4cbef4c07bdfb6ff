"""Fit time of ``shopstream ltv fit`` (summaries, BG/NBD, Gamma-Gamma); prints JSON.

Run: ``.venv/bin/python bench/ltv_bench.py [--runs 5] [--dir DIR]``

Two inputs: the CDNOW sample (2,357 customers, calibration ends 1997-09-30; fetched as
``shopstream datasets fetch cdnow`` does, into ``DIR``) and a synthetic set 10 times its
size: every CDNOW customer copied 10 times under new ids with each purchase moved by a
random 0-3 days (seeded), so the fits see a realistic but different log. For each, the
median over ``--runs`` of the CPU time of this thread (``time.thread_time_ns``, so other
processes on the machine do not count) of :func:`shopstream.cli.ltv.fit_transactions`
(summarise, fit BG/NBD, fit Gamma-Gamma, score the holdout), and of the wall time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

from shopstream.cli.ltv import Transaction, fit_transactions
from shopstream.datasets.cdnow import load_purchases
from shopstream.datasets.fetch import fetch
from shopstream.datasets.registry import dataset_info

CALIBRATION_END = date(1997, 9, 30)


def measure(log: list[Transaction], runs: int) -> dict[str, object]:
    cpu, wall = [], []
    fit = None
    for _ in range(runs):
        t0, w0 = time.thread_time_ns(), time.perf_counter_ns()
        fit = fit_transactions(log, calibration_end=CALIBRATION_END)
        cpu.append((time.thread_time_ns() - t0) / 1e6)
        wall.append((time.perf_counter_ns() - w0) / 1e6)
    assert fit is not None
    return {"transactions": len(log), "customers": fit.customers,
            "repeat_buyers": fit.repeat_buyers,
            "fit_cpu_ms_median": round(statistics.median(cpu), 1),
            "fit_wall_ms_median": round(statistics.median(wall), 1),
            "r": round(fit.bgnbd.r, 4), "alpha": round(fit.bgnbd.alpha, 4),
            "a": round(fit.bgnbd.a, 4), "b": round(fit.bgnbd.b, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    purchases = load_purchases(fetch(dataset_info("cdnow"), args.dir))
    cdnow = [(p.customer_id, p.day, p.dollars) for p in purchases]
    rng = random.Random(16)
    synthetic = [(f"{cid}-{copy}", day + timedelta(days=rng.randrange(4)), amount)
                 for copy in range(10) for cid, day, amount in cdnow]
    print(json.dumps({
        "bench": "ltv_fit", "runs": args.runs,
        "measured": "fit_transactions: summaries + BG/NBD + Gamma-Gamma + holdout scoring",
        "cdnow": measure(cdnow, args.runs),
        "synthetic_10x": measure(synthetic, args.runs),
    }, indent=2))


if __name__ == "__main__":
    main()
