"""Batch mining against brute-force counting on random baskets."""

from __future__ import annotations

import itertools
import random

import pytest

from shopstream.mining.batch import frequent_itemsets, mine_rules
from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import derive_rules


def _all_counts(baskets: list[list[str]], max_len: int) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for basket in baskets:
        for size in range(1, max_len + 1):
            for itemset in itertools.combinations(sorted(set(basket)), size):
                counts[itemset] = counts.get(itemset, 0) + 1
    return counts


def _random_baskets(rng: random.Random, n: int, vocabulary: int, longest: int
                    ) -> list[list[str]]:
    items = [f"p{i:02d}" for i in range(vocabulary)]
    # a skewed choice so that some itemsets are frequent
    return [[items[min(int(rng.expovariate(0.25)), vocabulary - 1)]
             for _ in range(rng.randint(1, longest))] for _ in range(n)]


@pytest.mark.parametrize("seed", range(12))
def test_frequent_itemsets_equal_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    baskets = _random_baskets(rng, rng.randint(5, 80), rng.randint(3, 25), rng.randint(1, 9))
    config = RulesConfig(min_support=rng.choice([0.02, 0.05, 0.1, 0.3]),
                         max_len=rng.choice([2, 3, 4, 5]))
    counts, n, distinct = frequent_itemsets(baskets, config)
    brute = _all_counts(baskets, config.max_len)
    min_count = config.min_count(len(baskets))
    assert counts == {k: v for k, v in brute.items() if v >= min_count}
    assert n == len(baskets)
    assert distinct == len({item for basket in baskets for item in basket})


@pytest.mark.parametrize("seed", range(12))
def test_rules_equal_derivation_from_all_counts(seed: int) -> None:
    rng = random.Random(100 + seed)
    baskets = _random_baskets(rng, rng.randint(5, 80), rng.randint(3, 25), rng.randint(1, 9))
    config = RulesConfig(min_support=rng.choice([0.02, 0.05, 0.1]),
                         min_confidence=rng.choice([0.0, 0.3, 0.5]),
                         min_lift=rng.choice([0.0, 1.0, 1.5]), max_len=rng.choice([2, 3, 4]))
    expected = derive_rules(_all_counts(baskets, config.max_len), len(baskets), config)
    assert list(mine_rules(baskets, config).rules) == expected


def test_duplicates_in_a_basket_count_once() -> None:
    result = mine_rules([["a", "a", "b"], ["a", "b", "b"]], RulesConfig(0.5, 0.5, 0.0))
    assert result.itemset_counts[("a",)] == 2
    assert result.itemset_counts[("a", "b")] == 2


def test_empty_input_and_single_items() -> None:
    assert mine_rules([], RulesConfig()).rules == ()
    result = mine_rules([["a"], ["b"]], RulesConfig(0.5))
    assert result.rules == ()
    assert result.itemset_counts == {("a",): 1, ("b",): 1}


def test_accepts_generators_and_sets() -> None:
    baskets = [{"x", "y"}, frozenset({"x", "y"}), ("x",)]
    config = RulesConfig(0.5, 0.5, 0.0)
    assert mine_rules(iter(baskets), config) == mine_rules(list(baskets), config)
