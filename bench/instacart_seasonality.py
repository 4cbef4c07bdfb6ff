"""The weekly seasonal profile of Instacart orders, with shopstream's own code; prints JSON.

Run: ``.venv/bin/python bench/instacart_seasonality.py [--dir DIR]``

Reads the Instacart sample (``shopstream datasets fetch instacart``; 150,000 order lines),
takes each order once with its ``order_dow`` (0 is read as Sunday, as
:mod:`shopstream.datasets.instacart` does) and ``order_hour_of_day``, counts orders per
weekday x hour, and fits :func:`shopstream.profiles.seasonality.estimate_profile` against a
flat baseline (no prior): the day-of-week and hour-of-day factors that
:mod:`shopstream.profiles.trends` divides out before judging a trend. Also reports how
well the product of the two (a separable profile, 31 numbers) matches the 168 cells:
the orders-weighted mean absolute relative error of ``dow[d] * hod[h] * mean`` against the
observed count. Timing: CPU of this thread (``time.thread_time_ns``) for the fit alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from shopstream.datasets.fetch import fetch
from shopstream.datasets.instacart import load_order_lines
from shopstream.datasets.registry import dataset_info
from shopstream.profiles.seasonality import estimate_profile

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    lines = load_order_lines(fetch(dataset_info("instacart"), args.dir))
    orders = {line.order_id: (line.order_dow, line.order_hour_of_day) for line in lines}
    observed = [[0.0] * 24 for _ in range(7)]
    for dow, hour in orders.values():
        observed[(dow + 6) % 7][hour] += 1.0  # Instacart day 0 (Sunday) -> Monday-first 6
    mean = len(orders) / 168.0
    baseline = [[mean] * 24 for _ in range(7)]
    started = time.thread_time_ns()
    profile = estimate_profile(observed, baseline, prior_days=0.0)
    fit_us = (time.thread_time_ns() - started) / 1_000
    error = sum(abs(profile.day_of_week[d] * profile.hour_of_day[h] * mean - observed[d][h])
                for d in range(7) for h in range(24)) / len(orders)
    print(json.dumps({
        "bench": "instacart_seasonality",
        "orders": len(orders), "order_lines": len(lines),
        "day_of_week": {DAYS[d]: round(v, 3) for d, v in enumerate(profile.day_of_week)},
        "hour_of_day": {f"{h:02d}": round(v, 3) for h, v in enumerate(profile.hour_of_day)},
        "orders_by_day": {DAYS[d]: int(sum(observed[d])) for d in range(7)},
        "orders_by_hour": {f"{h:02d}": int(sum(observed[d][h] for d in range(7)))
                           for h in range(24)},
        "separable_fit_weighted_abs_rel_error": round(error, 4),
        "fit_cpu_us": round(fit_us, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
