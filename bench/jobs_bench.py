"""The daily batch recommendations job for 100,000 shoppers; prints JSON.

Run: ``.venv/bin/python bench/jobs_bench.py [--shoppers 100000] [--repeat 3]``

1. builds a history: ``--shoppers`` shoppers, each with 1-3 sessions of 2-3 product views
   over a 5,000-product catalog with Zipf-like popularity, a purchase in a third of the
   sessions, spread over 60 days (seeded, so every run sees the same history);
2. trains the model the way the weekly retrain does (:func:`shopstream.jobs.models.train`:
   the pipeline's ModelTrainer, rules, lifetime value, segments) and saves it (timed once,
   reported apart);
3. runs the ``daily-recommendations`` job (:meth:`ShopJobs.daily`) ``--repeat`` times
   against a fresh embedded SQLite store: every known shopper ranked by the blend and
   written in batches of 1,000. Reported: the median wall time, shoppers per second from
   it, and the median CPU time of the job's thread (``time.thread_time``), since the
   machine is shared; plus the store's batches and the stored entries.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shopstream.events import EventType, ShopperEvent
from shopstream.events.model import Item
from shopstream.jobs.config import JobsConfig, RetrainConfig
from shopstream.jobs.history import History
from shopstream.jobs.models import ModelRepository, train
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.stores.embedded import SqliteStore

DAY_MS = 86_400_000
T0 = 1_790_000_000_000


def history(shoppers: int, products: int, seed: int = 17) -> list[ShopperEvent]:
    rng = random.Random(seed)
    cum_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 0.9
                                            for rank in range(products)))
    catalog = [f"p{n}" for n in range(products)]
    events: list[ShopperEvent] = []
    for u in range(shoppers):
        user = f"u{u}"
        for visit in range(rng.randint(1, 3)):
            ts = T0 + rng.randrange(60 * DAY_MS)
            session = f"{user}-{visit}"
            viewed = rng.choices(catalog, cum_weights=cum_weights, k=rng.randint(2, 3))
            for offset, product in enumerate(viewed):
                events.append(ShopperEvent(EventType.VIEW_PRODUCT, ts + offset * 1000, session,
                                           user_id=user, product_id=product))
            if rng.random() < 1 / 3:
                events.append(ShopperEvent(
                    EventType.PURCHASE, ts + 10_000, session, user_id=user,
                    items=tuple(Item(p, price=9.5) for p in dict.fromkeys(viewed[:2])),
                    cart_total=19.0))
    events.sort(key=lambda e: e.timestamp_ms)
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        events = history(args.shoppers, args.products)
        built_s = time.perf_counter() - started
        started = time.perf_counter()
        model = train(History(events, "replay"), RetrainConfig(), version=1,
                      now_ms=T0 + 61 * DAY_MS)
        train_s = time.perf_counter() - started
        del events
        walls, cpus = [], []
        result: dict[str, int] = {}
        batches = entries = 0
        for run in range(args.repeat):
            store = SqliteStore(root / f"features-{run}.db")
            ModelRepository(root / f"features-{run}.models").save(model)
            jobs = ShopJobs(store, JobsConfig())
            wall, cpu = time.perf_counter(), time.thread_time()
            result = jobs.daily(T0 + 61 * DAY_MS)
            cpus.append(time.thread_time() - cpu)
            walls.append(time.perf_counter() - wall)
            batches, entries = store.stats.batches, store.stats.keys
            store.close()
    wall_s = statistics.median(walls)
    print(json.dumps({
        "bench": "daily-recommendations",
        "measured": "ShopJobs.daily over a saved model: rank every known shopper with the "
                    "blend and write recs:user:{id} to a fresh embedded SQLite store in "
                    "batches of 1,000; median of --repeat runs",
        "shoppers": result.get("shoppers", 0),
        "products": args.products,
        "history_events": model.events,
        "repeat": args.repeat,
        "wall_s": round(wall_s, 3),
        "wall_s_runs": [round(w, 3) for w in walls],
        "shoppers_per_s": round(result.get("shoppers", 0) / wall_s) if wall_s else None,
        "thread_cpu_s": round(statistics.median(cpus), 3),
        "shoppers_per_thread_cpu_s": (round(result.get("shoppers", 0)
                                            / statistics.median(cpus))
                                      if statistics.median(cpus) else None),
        "store_batches": batches,
        "store_entries": entries,
        "empty_lists": result.get("empty", 0),
        "history_build_s": round(built_s, 2),
        "train_s": round(train_s, 2),
        "python": sys.version.split()[0],
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
