"""Hypothesis properties of the miners: order independence, undo, incremental = batch,
budgeted = batch at the support it used."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.mining.batch import mine_rules
from shopstream.mining.budget import MiningBudget, mine_within_budget
from shopstream.mining.config import RulesConfig
from shopstream.mining.miner import RuleMiner

ITEMS = st.sampled_from([f"p{i}" for i in range(9)])
BASKET = st.lists(ITEMS, min_size=0, max_size=7)
BASKETS = st.lists(BASKET, min_size=0, max_size=30)
CONFIG = st.builds(
    RulesConfig,
    min_support=st.sampled_from([0.01, 0.05, 0.1, 0.25, 0.5]),
    min_confidence=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    min_lift=st.sampled_from([0.0, 1.0, 1.5]),
    max_len=st.integers(min_value=2, max_value=4),
)
UNLIMITED = 10**6
BUDGET = st.builds(
    MiningBudget,
    max_itemsets=st.integers(min_value=1, max_value=40),
    max_basket_items=st.integers(min_value=1, max_value=8),
    max_candidates=st.sampled_from([1, 3, 10, UNLIMITED]),
)


def _observed(miner: RuleMiner) -> tuple[object, object]:
    return miner.itemset_counts(), miner.rule_map()


@settings(max_examples=60, deadline=None)
@given(baskets=BASKETS, config=CONFIG, data=st.data())
def test_basket_order_does_not_matter(baskets: list[list[str]], config: RulesConfig,
                                      data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(baskets))
    inner = [data.draw(st.permutations(b)) for b in shuffled]
    assert mine_rules(inner, config) == mine_rules(baskets, config)
    one, two = RuleMiner(config), RuleMiner(config)
    for basket in baskets:
        one.add_basket(basket)
    for basket in inner:
        two.add_basket(basket)
    assert _observed(one) == _observed(two)


@settings(max_examples=60, deadline=None)
@given(baskets=BASKETS, extra=BASKET, config=CONFIG)
def test_add_then_evict_restores_counts_and_rules(baskets: list[list[str]], extra: list[str],
                                                  config: RulesConfig) -> None:
    miner, fresh = RuleMiner(config), RuleMiner(config)
    miner.add_basket(extra)
    miner.changes()
    for basket in baskets:
        miner.add_basket(basket)
        fresh.add_basket(basket)
    miner.changes()
    assert miner.evict_oldest() == tuple(sorted(set(extra)))
    assert _observed(miner) == _observed(fresh)


@settings(max_examples=80, deadline=None)
@given(config=CONFIG, data=st.data(),
       steps=st.lists(st.tuples(st.sampled_from(["add", "evict", "check"]), BASKET),
                      min_size=1, max_size=60))
def test_incremental_equals_batch(config: RulesConfig, data: st.DataObject,
                                  steps: list[tuple[str, list[str]]]) -> None:
    miner = RuleMiner(config, tolerance=data.draw(st.sampled_from([0.0, 0.05, 0.5])))
    window: list[list[str]] = []
    for action, basket in steps:
        if action == "add":
            miner.add_basket(basket)
            window.append(basket)
        elif action == "evict" and window:
            assert miner.evict_oldest() == tuple(sorted(set(window.pop(0))))
        else:
            miner.changes()
        expected = mine_rules(window, config)
        assert miner.rule_map() == {rule.key: rule for rule in expected.rules}
        assert miner.itemset_counts() == dict(expected.itemset_counts)


@settings(max_examples=200, deadline=None)
@given(baskets=BASKETS, config=CONFIG, budget=BUDGET)
def test_budgeted_mining_equals_batch_at_the_support_used(
        baskets: list[list[str]], config: RulesConfig, budget: MiningBudget) -> None:
    mined = mine_within_budget(baskets, config, budget)
    truncated = [budget.truncate(basket) for basket in baskets]
    used = replace(config, min_support=mined.min_support_used)
    assert mined.result == mine_rules(truncated, used)
    assert mined.truncated_baskets == sum(len(set(b)) > budget.max_basket_items
                                          for b in baskets)
    threshold = used.min_count(len(baskets))
    assert mined.raised == (threshold > config.min_count(len(baskets)))
    # the budget holds, unless the itemsets over it are in every basket
    assert len(mined.result.itemset_counts) <= budget.max_itemsets \
        or threshold == max(len(baskets), 1)
    if mined.raised and budget.max_candidates == UNLIMITED:
        # the smallest threshold that fits: one lower keeps too many itemsets
        every = Counter(itemset for basket in truncated for size in range(1, used.max_len + 1)
                        for itemset in combinations(sorted(basket), size))
        assert sum(n >= threshold - 1 for n in every.values()) > budget.max_itemsets
