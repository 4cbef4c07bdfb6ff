"""How much of the recommenders' quality is their memory; prints one JSON object.

``shopstream evaluate --tune`` (static protocol, k = 20) on MovieLens-100k cut into
sessions at 30-minute gaps and on the Instacart sample with each shopper's orders as
one long session, once per memory of the merged counts:

- ``default``: the pipeline's ``CountsConfig`` (counts halve every 14 days; SESSION_PAIRS
  every year, see :mod:`shopstream.recommend.session_pairs`);
- ``no_decay``: ``half_life_ms=0`` for every kind (the baselines remember as long as
  SESSION_PAIRS does): the fair comparison of SESSION_PAIRS' whole-session window with
  the baselines;
- ``tuned``: the half-life chosen on the validation split among 14 days, 90 days, a
  year and never (``EvaluationConfig.tune_memory``); the report's ``tuning.memories``
  gives every strategy's validation HR@20 under each, so each one's best memory can be
  read off.

Session k-NN's neighbours halve their votes with the same half-life as the counts.
``--blend-knn`` lets the tuned blend weigh session k-NN too (offline only: the pipeline
keeps no index of other sessions); it implies ``--with-knn``.

For each: HR@20 and MRR@20 of every strategy and the blend, the blend's gain over the
best of the two simple baselines (next items, session co-occurrence), the tuned weights
and the wall and CPU (process) time. The session k-NN baseline (offline only, the
slowest) is skipped unless ``--with-knn``.

``learner``: what learning SESSION_PAIRS costs the pair learner, microseconds of this
thread's CPU time (``time.thread_time_ns``) per action over 50,000 views (sessions of 30
distinct products out of 300), median of 3, with ``session_window`` 0 (off, the
pipeline's default) and 20.

Usage::

    .venv/bin/python bench/recommend_memory_bench.py [--memories default,no_decay,tuned]
        [--datasets movielens,instacart] [--with-knn] [--blend-knn] [--skip-quality]
        [--skip-learner]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

from shopstream.datasets.fetch import fetch
from shopstream.datasets.registry import dataset_info
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import load_sessions
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.pairs import PairLearner, PairsConfig
from shopstream.recommend.suite import RecommendConfig

DATASETS = {"movielens": ("movielens-100k", "movielens-sessions.csv"),
            "instacart": ("instacart", "instacart-user-sessions.csv")}
#: Memory name -> (counts, whether the half-life is chosen on validation).
MEMORIES = {"default": (CountsConfig(), False),
            "no_decay": (CountsConfig(half_life_ms=0), False),
            "tuned": (CountsConfig(), True)}


def quality(dataset: str, memory: str, with_knn: bool, blend_knn: bool) -> dict[str, Any]:
    name, csv_name = DATASETS[dataset]
    path = fetch(dataset_info(name)).parent / csv_name
    counts, tune_memory = MEMORIES[memory]
    config = EvaluationConfig(tune=True, recommend=replace(RecommendConfig(), counts=counts),
                              skip=frozenset() if with_knn else frozenset({"session_knn"}),
                              tune_memory=tune_memory, blend_knn=blend_knn)
    sessions = load_sessions(path)
    started = time.perf_counter()
    cpu = time.process_time()
    report = evaluate(sessions, config)
    cpu_seconds = time.process_time() - cpu
    seconds = time.perf_counter() - started
    recs = report["recommenders"]
    baseline = max(recs["next_item"]["hr"], recs["co_occurrence"]["hr"])
    singles = {n: r["hr"] for n, r in recs.items() if n != "blend"}
    best = max(singles, key=singles.__getitem__)
    return {
        "predictions": report["predictions"],
        "hr20": {n: r["hr"] for n, r in sorted(recs.items(), key=lambda e: -e[1]["hr"])},
        "mrr20": {n: r["mrr"] for n, r in recs.items()},
        "blend_vs_best_simple_baseline": round(recs["blend"]["hr"] / baseline, 3)
        if baseline else None,
        "blend_beats_every_single": recs["blend"]["hr"] > singles[best],
        "blend_vs_best_single": round(recs["blend"]["hr"] / singles[best], 3)
        if singles[best] else None,
        "best_single": {"name": best, "hr": singles[best]},
        "tuning": report["tuning"], "half_life_ms": report["half_life_ms"],
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
    }


def learner_cost(session_window: int, actions: int = 50_000, repeats: int = 3) -> float:
    """Median microseconds of thread CPU time per learned action."""
    steps = [(f"s{n // 30}", f"p{(n * 7 + n // 30) % 300}") for n in range(actions)]
    times = []
    for _ in range(repeats):
        learner = PairLearner(PairsConfig(session_window=session_window))
        started = time.thread_time_ns()
        for t, (session, product) in enumerate(steps):
            learner.learn_step(session, product, "VIEW_PRODUCT", t)
            if learner.full:
                learner.drain()
        times.append((time.thread_time_ns() - started) / 1_000 / actions)
    return round(statistics.median(times), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", default=",".join(MEMORIES))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--with-knn", action="store_true")
    parser.add_argument("--blend-knn", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-learner", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_learner:
        result["learner_us_per_action"] = {f"session_window={w}": learner_cost(w)
                                           for w in (0, 20)}
    for memory in filter(None, "" if args.skip_quality else args.memories.split(",")):
        result[memory] = {dataset: quality(dataset, memory, args.with_knn or args.blend_knn,
                                           args.blend_knn)
                          for dataset in filter(None, args.datasets.split(","))}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
