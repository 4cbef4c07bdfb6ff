"""Mining within a budget: exactly the batch rules at the support it used, in bounded time."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from shopstream.errors import ConfigError
from shopstream.mining import (
    BudgetedMining,
    MiningBudget,
    RulesConfig,
    mine_rules,
    mine_within_budget,
)
from shopstream.mining.budget import _support_for


def _batch_at_used(baskets: list[list[str]], config: RulesConfig, budget: MiningBudget,
                   mined: BudgetedMining) -> object:
    truncated = [budget.truncate(basket) for basket in baskets]
    return mine_rules(truncated, replace(config, min_support=mined.min_support_used))


@pytest.mark.parametrize("field", ["max_itemsets", "max_basket_items", "max_candidates"])
@pytest.mark.parametrize("value", [0, -3, True, 2.5, "10"])
def test_bad_budget_names_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"MiningBudget\.{field} .* got {value!r}"):
        MiningBudget(**{field: value})  # type: ignore[arg-type]


def test_truncate_keeps_the_first_distinct_items_in_order() -> None:
    budget = MiningBudget(max_basket_items=3)
    assert budget.truncate(["b", "a", "b", "c", "d"]) == ("b", "a", "c")
    assert budget.truncate(("x", "x")) == ("x",)
    assert budget.truncate([]) == ()


def test_within_budget_is_the_plain_batch_result() -> None:
    baskets = [["a", "b", "c"], ["a", "b"], ["b", "c"], ["a", "c", "d"]] * 5
    config = RulesConfig(min_support=0.2, min_confidence=0.4, min_lift=0.0)
    mined = mine_within_budget(baskets, config, MiningBudget())
    assert mined == BudgetedMining(mine_rules(baskets, config), 0.2, False, 0)


def test_long_baskets_are_truncated_and_counted() -> None:
    baskets = [["a", "b", "c", "d"], ["a", "b"], ["d", "c", "b", "a", "a"]]
    config = RulesConfig(min_support=0.3, min_confidence=0.0, min_lift=0.0)
    budget = MiningBudget(max_basket_items=2)
    mined = mine_within_budget(baskets, config, budget)
    assert mined.truncated_baskets == 2
    assert not mined.raised
    assert mined.result == mine_rules([["a", "b"], ["a", "b"], ["d", "c"]], config)
    assert mined.result.item_count == 4


def test_raising_keeps_the_top_itemsets_and_ties_go_together() -> None:
    # counts: a 4, b 4, c 3, d 2, e 1, ab 4, ac 2, bc 2, abc 2, and five of count 1
    baskets = [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "d"], ["b", "a"], ["c", "d"],
               ["e"]]
    config = RulesConfig(min_support=1 / 6, min_confidence=0.0, min_lift=0.0)
    budget = MiningBudget(max_itemsets=4)
    mined = mine_within_budget(baskets, config, budget)
    assert mined.raised
    # count >= 3 keeps a, b, c, ab (4 itemsets); count >= 2 would keep 8
    assert dict(mined.result.itemset_counts) == {("a",): 4, ("b",): 4, ("c",): 3,
                                                 ("a", "b"): 4}
    assert RulesConfig(min_support=mined.min_support_used).min_count(6) == 3
    assert mined.result == _batch_at_used(baskets, config, budget, mined)


def test_the_candidate_cap_raises_the_threshold_before_counting() -> None:
    rng = random.Random(3)
    items = [f"i{k}" for k in range(12)]
    baskets = [rng.sample(items, 6) for _ in range(60)]
    config = RulesConfig(min_support=0.02, min_confidence=0.2, min_lift=0.0, max_len=4)
    budget = MiningBudget(max_candidates=20)
    mined = mine_within_budget(baskets, config, budget)
    assert mined.raised
    assert mined.result == _batch_at_used(baskets, config, budget, mined)
    unlimited = mine_within_budget(baskets, config, MiningBudget(max_candidates=10**6))
    assert unlimited.min_support_used < mined.min_support_used


def test_every_basket_the_same_cannot_raise_above_one() -> None:
    baskets = [["a", "b", "c", "d"]] * 5
    config = RulesConfig(min_support=0.2, min_confidence=0.5, min_lift=0.0)
    budget = MiningBudget(max_itemsets=2, max_candidates=1)
    mined = mine_within_budget(baskets, config, budget)
    assert (mined.raised, mined.min_support_used) == (True, 1.0)
    # over both budgets (14 itemsets, 4 triples counted): all are in every basket
    assert len(mined.result.itemset_counts) == 4 + 6 + 4
    assert mined.result == mine_rules(baskets, replace(config, min_support=1.0))


@pytest.mark.parametrize("baskets", [[], [[]], [["a"]], [["a"], ["b"]]])
def test_degenerate_inputs(baskets: list[list[str]]) -> None:
    config = RulesConfig(min_support=0.5)
    mined = mine_within_budget(baskets, config, MiningBudget(max_itemsets=1))
    assert mined.result == _batch_at_used(baskets, config, MiningBudget(), mined)
    assert mined.result.rules == ()


def test_max_len_two_never_counts_triples() -> None:
    baskets = [["a", "b", "c"]] * 3 + [["a", "b"]]
    config = RulesConfig(min_support=0.25, min_confidence=0.0, min_lift=0.0, max_len=2)
    mined = mine_within_budget(baskets, config, MiningBudget())
    assert max(map(len, mined.result.itemset_counts)) == 2
    assert mined.result == mine_rules(baskets, config)


@pytest.mark.parametrize("basket_count", [1, 7, 1000, 15_183, 2_000_003])
def test_support_used_gives_back_the_threshold(basket_count: int) -> None:
    rng = random.Random(basket_count)
    for threshold in {1, basket_count, *(rng.randint(1, basket_count) for _ in range(200))}:
        support = _support_for(threshold, basket_count)
        assert RulesConfig(min_support=support).min_count(basket_count) == threshold
        assert len(repr(support)) <= 12  # a short decimal, e.g. 0.0011, not 0.00111967...


def test_long_baskets_finish_within_the_budget() -> None:
    # 2,000 baskets of 80 distinct items out of 300: at support 0.001 (count 2) almost
    # every one of the 4.5 million triples is frequent; plain batch mining would count
    # them all. The budget bounds the work; this test hangs if it does not.
    rng = random.Random(20)
    products = [f"p{k:03d}" for k in range(300)]
    baskets = [rng.sample(products, 80) for _ in range(2_000)]
    config = RulesConfig(min_support=0.001, min_confidence=0.3, max_len=3)
    budget = MiningBudget()
    mined = mine_within_budget(baskets, config, budget)
    assert mined.truncated_baskets == 2_000
    assert mined.raised
    assert len(mined.result.itemset_counts) <= budget.max_itemsets
    sizes = Counter(map(len, mined.result.itemset_counts))
    assert sizes[1] == 300
    assert mined.result == _batch_at_used(baskets, config, budget, mined)
