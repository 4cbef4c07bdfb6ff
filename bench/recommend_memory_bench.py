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

``anchor_state``: whether the merged counts stay bounded when the input grows. The
pipeline's learning and merge stages without the engine: one pair learner per key group
(``RecommendConfig.key_groups``, sessions hashed to one), each drained every
``publish_every_ms`` of event time, their deltas added into one
:class:`~shopstream.recommend.counts.AnchorCounts` per (kind, anchor) and each changed
anchor's top list asked after every publication, as the rec-models stage does; over
``--anchor-actions`` views and ten times as many (sessions of 10 views, one a second,
of a uniform catalog of ``--catalog`` products: by default 300, the dense shop of
``recommend_bench``, so every anchor meets more than ``2 * capacity`` products). Per
size: the most products one anchor's counts held after any add
(``max_entries_per_anchor``; the bound is ``2 * capacity`` plus the most products one
publication added to one anchor, ``bound_per_anchor``), the most entries of the
containers the counts keep beside them (``max_side_entries``: the products counted since
the last top list, those of the newest time...), the entries of all anchors at the end
and their pickled size (what a checkpoint holds), and ``ratio_10x`` of each between the
two sizes (flat: about 1; the entries of all anchors grow until every anchor has met
``2 * capacity`` products, then stay under ``entries_bound``, the anchors times the
bound).

Usage::

    .venv/bin/python bench/recommend_memory_bench.py [--memories default,no_decay,tuned]
        [--datasets movielens,instacart] [--with-knn] [--blend-knn] [--skip-quality]
        [--skip-learner] [--skip-anchor-state] [--anchor-actions 50000] [--catalog 300]
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import statistics
import sys
import time
import zlib
from dataclasses import replace
from typing import Any

from shopstream.datasets.fetch import fetch
from shopstream.datasets.registry import dataset_info
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import load_sessions
from shopstream.recommend.counts import AnchorCounts, CountsConfig
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


def _side_entries(counts: AnchorCounts) -> int:
    """Entries of the containers an :class:`AnchorCounts` keeps beside its counts."""
    total = 0
    for name in type(counts).__slots__:
        value = getattr(counts, name, None)
        if name != "counts" and isinstance(value, (dict, set, list, tuple)):
            total += len(value)
    return total


def anchor_state(actions: int, catalog: int, key_groups: int = 8,
                 seed: int = 7) -> dict[str, Any]:
    """What the merged counts hold after ``actions`` views; see the module docs."""
    config = RecommendConfig()
    counts_cfg, every = config.counts, config.publish_every_ms
    learners = [PairLearner(config.pairs) for _ in range(key_groups)]
    anchors: dict[tuple[str, str], AnchorCounts] = {}
    rng = random.Random(seed)
    most = side = one_time = deltas = 0
    next_publication = every

    def publish(now_ms: int) -> None:
        nonlocal most, side, one_time, deltas
        added: dict[tuple[str, str], int] = {}
        for learner in learners:
            for delta in learner.drain():
                deltas += 1
                ident = (delta.kind, delta.anchor)
                entry = anchors.get(ident)
                if entry is None:
                    entry = anchors[ident] = AnchorCounts()
                entry.add(delta.items, delta.weights, now_ms, counts_cfg)
                added[ident] = added.get(ident, 0) + len(delta.items)
                most = max(most, len(entry))
                side = max(side, _side_entries(entry))
        one_time = max([one_time, *added.values()])
        for ident in added:
            anchors[ident].top(counts_cfg)

    for n in range(actions):
        now_ms = n * 1_000
        if now_ms >= next_publication:
            publish(next_publication - 1)
            next_publication += every
        session = f"s{n // 10}"
        learner = learners[zlib.crc32(session.encode()) % key_groups]
        learner.learn_step(session, f"p{rng.randrange(catalog)}", "VIEW_PRODUCT", now_ms)
    publish(next_publication - 1)
    held = list(anchors.values())
    return {
        "actions": actions, "deltas": deltas, "anchors": len(held),
        "max_entries_per_anchor": most,
        "bound_per_anchor": 2 * counts_cfg.capacity + one_time,
        "within_bound": most <= 2 * counts_cfg.capacity + one_time,
        "max_side_entries": side,
        "entries_at_end": sum(len(e) for e in held),
        "entries_bound": len(held) * (2 * counts_cfg.capacity + one_time),
        "pickled_bytes_at_end": sum(len(pickle.dumps(e)) for e in held),
    }


def anchor_state_growth(actions: int, catalog: int) -> dict[str, Any]:
    """:func:`anchor_state` at ``actions`` and ten times as many, and their ratios."""
    small, large = anchor_state(actions, catalog), anchor_state(10 * actions, catalog)
    keys = ("max_entries_per_anchor", "max_side_entries", "entries_at_end",
            "pickled_bytes_at_end")
    return {"capacity": RecommendConfig().counts.capacity, "catalog": catalog,
            "sizes": [small, large],
            "ratio_10x": {k: round(large[k] / small[k], 3) if small[k] else None
                          for k in keys}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", default=",".join(MEMORIES))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--with-knn", action="store_true")
    parser.add_argument("--blend-knn", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-learner", action="store_true")
    parser.add_argument("--skip-anchor-state", action="store_true")
    parser.add_argument("--anchor-actions", type=int, default=50_000)
    parser.add_argument("--catalog", type=int, default=300)
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_anchor_state:
        result["anchor_state"] = anchor_state_growth(args.anchor_actions, args.catalog)
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
