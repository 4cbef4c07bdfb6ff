"""RuleIndex: matching, ranking and following a change stream."""

from __future__ import annotations

import itertools
import random

from shopstream.mining.batch import mine_rules
from shopstream.mining.changes import ChangeKind, RuleChange
from shopstream.mining.config import RulesConfig
from shopstream.mining.index import RuleIndex, rank_key
from shopstream.mining.rules import Rule


def test_ranking_multi_item_first_then_confidence_then_lift() -> None:
    rules = [Rule(("a",), "x", 9, 10, 50, 100),        # conf .9 lift 1.8
             Rule(("a",), "y", 9, 10, 20, 100),        # conf .9 lift 4.5
             Rule(("b",), "z", 5, 10, 10, 100),        # conf .5
             Rule(("a", "b"), "w", 2, 8, 40, 100)]     # two antecedents, conf .25
    index = RuleIndex(rules)
    assert [r.consequent for r in index.match(["a", "b"])] == ["w", "y", "x", "z"]
    assert [r.consequent for r in index.match(["a", "b"], limit=2)] == ["w", "y"]


def test_consequents_in_basket_are_excluded_by_default() -> None:
    index = RuleIndex([Rule(("a",), "b", 3, 4, 5, 10), Rule(("a",), "c", 3, 4, 5, 10)])
    assert [r.consequent for r in index.match(["a", "b"])] == ["c"]
    assert {r.consequent for r in index.match(["a", "b"], exclude_present=False)} == {"b", "c"}


def test_match_equals_linear_scan() -> None:
    rng = random.Random(3)
    items = [f"i{k}" for k in range(10)]
    baskets = [rng.sample(items, rng.randint(1, 6)) for _ in range(60)]
    rules = mine_rules(baskets, RulesConfig(0.05, 0.2, 0.0, max_len=4)).rules
    index = RuleIndex(rules)
    assert len(index) == len(rules)
    for size in range(0, 6):
        for basket in itertools.islice(itertools.combinations(items, size), 30):
            present = set(basket)
            expected = sorted((r for r in rules if present.issuperset(r.antecedents)
                               and r.consequent not in present), key=rank_key)
            assert index.match(basket) == expected


def test_apply_changes_and_discard() -> None:
    old = Rule(("a",), "b", 3, 4, 5, 10)
    new = Rule(("a",), "b", 4, 4, 5, 10)
    index = RuleIndex()
    index.apply([RuleChange(ChangeKind.NEW, old)])
    index.apply([RuleChange(ChangeKind.UPDATED, new, old)])
    assert index.match(["a"]) == [new]
    index.apply([RuleChange(ChangeKind.EXPIRED, new)])
    assert len(index) == 0
    assert index.match(["a"]) == []
    index.discard((("a",), "b"))   # absent: no error
    assert (("a",), "b") not in index


def test_recommend_keeps_best_rule_per_consequent() -> None:
    index = RuleIndex([Rule(("a",), "c", 3, 4, 5, 10), Rule(("a", "b"), "c", 2, 2, 5, 10),
                       Rule(("b",), "d", 1, 4, 5, 10)])
    assert [(r.antecedents, r.consequent) for r in index.recommend(["a", "b"])] == [
        (("a", "b"), "c"), (("b",), "d")]
