"""Rule records, their metrics and canonical order, and derivation from counts."""

from __future__ import annotations

import itertools
from fractions import Fraction

import msgspec

from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import Rule, derive_coded_rules, derive_rules, rule_sort_key


def test_metrics_from_counts() -> None:
    rule = Rule(("a", "b"), "c", count=6, antecedent_count=8, consequent_count=12,
                basket_count=40)
    assert rule.support == 6 / 40
    assert rule.confidence == 6 / 8
    assert rule.lift == 6 * 40 / (8 * 12)
    assert rule.interestingness == 0.4 * 0.75 + min(2.5 / 10, 0.3) + min(10 * 0.15, 0.3)
    assert rule.key == (("a", "b"), "c")


def test_interestingness_caps() -> None:
    rule = Rule(("a",), "b", 1, 1, 1, 1000)   # lift 1000, support 0.001
    assert rule.interestingness == 0.4 * 1.0 + 0.3 + min(10 * 0.001, 0.3)


def test_record_keys_are_camel_case_in_documented_order() -> None:
    record = Rule(("a",), "b", 2, 4, 5, 10).to_record()
    assert list(record) == ["antecedents", "consequent", "support", "confidence", "lift",
                            "interestingness", "count", "antecedentCount", "consequentCount",
                            "basketCount"]
    assert record["antecedents"] == ["a"]


def test_rule_is_frozen_and_hashable() -> None:
    rule = Rule(("a",), "b", 2, 4, 5, 10)
    assert rule == Rule(("a",), "b", 2, 4, 5, 10)
    assert len({rule, Rule(("a",), "b", 2, 4, 5, 10)}) == 1
    assert msgspec.json.decode(msgspec.json.encode(rule), type=Rule) == rule


def test_sort_key_is_total_and_integer() -> None:
    rules = [Rule(("b",), "a", 5, 10, 9, 100), Rule(("a",), "b", 5, 10, 9, 100),
             Rule(("a", "c"), "b", 5, 10, 9, 100), Rule(("z",), "y", 6, 50, 50, 100),
             Rule(("x",), "y", 5, 9, 50, 100), Rule(("x",), "w", 5, 10, 8, 100)]
    ordered = sorted(rules, key=rule_sort_key)
    assert [r.key for r in ordered] == [
        (("z",), "y"), (("x",), "y"), (("x",), "w"), (("a",), "b"), (("b",), "a"),
        (("a", "c"), "b")]


def _brute_rules(baskets: list[set[str]], config: RulesConfig) -> set[tuple[object, ...]]:
    n = len(baskets)
    items = sorted(set().union(*baskets))

    def count(itemset: tuple[str, ...]) -> int:
        return sum(1 for b in baskets if b.issuperset(itemset))

    found = set()
    for size in range(2, config.max_len + 1):
        for itemset in itertools.combinations(items, size):
            c = count(itemset)
            if c == 0 or c < Fraction(str(config.min_support)) * n:
                continue
            for consequent in itemset:
                antecedents = tuple(i for i in itemset if i != consequent)
                ca, cc = count(antecedents), count((consequent,))
                if Fraction(c, ca) >= Fraction(str(config.min_confidence)) and \
                        Fraction(c * n, ca * cc) >= Fraction(str(config.min_lift)):
                    found.add((antecedents, consequent, c, ca, cc, n))
    return found


def test_derive_rules_matches_brute_force() -> None:
    baskets = [{"a", "b", "c"}, {"a", "b"}, {"a", "c"}, {"b", "c", "d"}, {"a", "b", "c", "d"},
               {"d"}, {"a", "d"}, {"b", "c"}]
    counts: dict[tuple[str, ...], int] = {}
    for basket in baskets:
        for size in (1, 2, 3):
            for itemset in itertools.combinations(sorted(basket), size):
                counts[itemset] = counts.get(itemset, 0) + 1
    for config in [RulesConfig(0.25, 0.5, 1.0), RulesConfig(0.125, 0.0, 0.0),
                   RulesConfig(0.3, 0.6, 1.1, max_len=2)]:
        got = {(r.antecedents, r.consequent, r.count, r.antecedent_count, r.consequent_count,
                r.basket_count) for r in derive_rules(counts, len(baskets), config)}
        assert got == _brute_rules(baskets, config)


def test_coded_derivation_equals_string_derivation() -> None:
    names = ["a", "b", "c"]
    coded = {(0,): 5, (1,): 4, (2,): 3, (0, 1): 3, (0, 2): 2, (1, 2): 2, (0, 1, 2): 2}
    plain = {tuple(names[i] for i in k): v for k, v in coded.items()}
    config = RulesConfig(0.2, 0.5, 0.0)
    assert derive_coded_rules(coded, 6, config, names) == derive_rules(plain, 6, config)
