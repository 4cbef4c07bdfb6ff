"""Association rules: the record, its metrics, its canonical order and its derivation.

A rule ``A -> c`` has antecedent itemset ``A`` and one consequent item ``c`` not in ``A``.
Counts are integers over a window of ``N`` baskets (an item counts once per basket):

- ``support = count(A u {c}) / N``
- ``confidence = count(A u {c}) / count(A)``
- ``lift = confidence / (count({c}) / N)``, computed as ``count * N / (count(A) * count(c))``
  in exact integers and divided once, so it is correctly rounded
- ``interestingness = 0.4 * confidence + min(lift / 10, 0.3) + min(10 * support, 0.3)``

Examples
--------
>>> rule = Rule(("bread",), "butter", count=3, antecedent_count=4, consequent_count=5,
...             basket_count=10)
>>> rule.support, rule.confidence, rule.lift
(0.3, 0.75, 1.5)
>>> round(rule.interestingness, 6)
0.75
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from shopstream.mining.config import RulesConfig

__all__ = ["Rule", "RuleKey", "derive_coded_rules", "derive_rules", "rule_sort_key"]

RuleKey = tuple[tuple[str, ...], str]
"""Identity of a rule: ``(sorted antecedents, consequent)``."""


class Rule(msgspec.Struct, frozen=True, rename="camel"):
    """One association rule with the integer counts it was derived from.

    ``antecedents`` is sorted; the float metrics are properties computed from the counts.
    """

    antecedents: tuple[str, ...]
    consequent: str
    count: int
    antecedent_count: int
    consequent_count: int
    basket_count: int

    @property
    def key(self) -> RuleKey:
        """``(antecedents, consequent)``: what identifies the rule across windows."""
        return (self.antecedents, self.consequent)

    @property
    def support(self) -> float:
        """Share of baskets holding antecedents and consequent together."""
        return self.count / self.basket_count

    @property
    def confidence(self) -> float:
        """Share of the baskets holding the antecedents that also hold the consequent."""
        return self.count / self.antecedent_count

    @property
    def lift(self) -> float:
        """Confidence relative to the consequent's own share of baskets."""
        return (self.count * self.basket_count) / (self.antecedent_count * self.consequent_count)

    @property
    def interestingness(self) -> float:
        """``0.4 * confidence + min(lift / 10, 0.3) + min(10 * support, 0.3)``."""
        return (0.4 * self.confidence + min(self.lift / 10, 0.3)
                + min(10 * self.support, 0.3))

    def to_record(self) -> dict[str, Any]:
        """The rule as one output record (camelCase keys, the documented column order).

        Examples
        --------
        >>> Rule(("a",), "b", 1, 2, 1, 4).to_record()["lift"]
        2.0
        """
        return {
            "antecedents": list(self.antecedents),
            "consequent": self.consequent,
            "support": self.support,
            "confidence": self.confidence,
            "lift": self.lift,
            "interestingness": self.interestingness,
            "count": self.count,
            "antecedentCount": self.antecedent_count,
            "consequentCount": self.consequent_count,
            "basketCount": self.basket_count,
        }


def rule_sort_key(rule: Rule) -> tuple[int, int, int, int, tuple[str, ...], str]:
    """The canonical output order, in integers only.

    Count descending; for equal counts, confidence descending (smaller antecedent count
    first), then lift descending (smaller consequent count first); then fewer antecedents,
    then antecedents and consequent alphabetically, so the order is total.

    Examples
    --------
    >>> a = Rule(("x",), "y", 5, 10, 9, 100)
    >>> b = Rule(("z",), "y", 5, 8, 9, 100)
    >>> [r.antecedents for r in sorted([a, b], key=rule_sort_key)]
    [('z',), ('x',)]
    """
    return (-rule.count, rule.antecedent_count, rule.consequent_count, len(rule.antecedents),
            rule.antecedents, rule.consequent)


def derive_rules(itemset_counts: Mapping[tuple[str, ...], int], basket_count: int,
                 config: RulesConfig) -> list[Rule]:
    """Every rule the thresholds keep, from the counts of the frequent itemsets.

    ``itemset_counts`` maps sorted item tuples to counts; it must hold every itemset of
    size 1 to ``config.max_len`` whose count reaches ``config.min_count(basket_count)``
    (so every antecedent and consequent of a kept rule is present). Rules come back in
    :func:`rule_sort_key` order.

    Examples
    --------
    >>> counts = {("a",): 4, ("b",): 5, ("a", "b"): 3}
    >>> [(r.antecedents, r.consequent) for r in derive_rules(counts, 10, RulesConfig(0.1))]
    [(('a',), 'b'), (('b',), 'a')]
    """
    min_count = config.min_count(basket_count)
    rules: list[Rule] = []
    for itemset, count in itemset_counts.items():
        if len(itemset) < 2 or len(itemset) > config.max_len or count < min_count:
            continue
        rules.extend(_rules_of(itemset, count, itemset_counts, basket_count, config))
    rules.sort(key=rule_sort_key)
    return rules


def derive_coded_rules(itemset_counts: Mapping[tuple[int, ...], int], basket_count: int,
                       config: RulesConfig, names: Sequence[str]) -> list[Rule]:
    """:func:`derive_rules` over integer item codes; ``names[code]`` is the item id.

    Codes must be ordered like the ids (``names`` sorted), so a code-sorted itemset decodes
    to a sorted tuple of ids. This is the hot loop of batch mining, so the three
    threshold tests are inlined integer comparisons.

    Examples
    --------
    >>> counts = {(0,): 4, (1,): 5, (0, 1): 3}
    >>> [r.key for r in derive_coded_rules(counts, 10, RulesConfig(0.1), ["a", "b"])]
    [(('a',), 'b'), (('b',), 'a')]
    """
    min_count = config.min_count(basket_count)
    conf_num, conf_den = config.confidence_fraction
    lift_num, lift_den = config.lift_fraction
    lift_scale = basket_count * lift_den
    decode = names.__getitem__
    rules: list[Rule] = []
    for itemset, count in itemset_counts.items():
        size = len(itemset)
        if size < 2 or size > config.max_len or count < min_count:
            continue
        for i in range(size):
            antecedents = itemset[:i] + itemset[i + 1:]
            antecedent_count = itemset_counts[antecedents]
            if count * conf_den < conf_num * antecedent_count:
                continue
            consequent = itemset[i]
            consequent_count = itemset_counts[(consequent,)]
            if count * lift_scale < lift_num * antecedent_count * consequent_count:
                continue
            rules.append(Rule(tuple(map(decode, antecedents)), names[consequent], count,
                              antecedent_count, consequent_count, basket_count))
    rules.sort(key=rule_sort_key)
    return rules


def _rules_of(itemset: tuple[str, ...], count: int,
              counts: Mapping[tuple[str, ...], int], basket_count: int,
              config: RulesConfig) -> Iterable[Rule]:
    """The kept rules with exactly the items of ``itemset``, one per consequent."""
    for i, consequent in enumerate(itemset):
        antecedents = itemset[:i] + itemset[i + 1:]
        antecedent_count = counts[antecedents]
        consequent_count = counts[(consequent,)]
        if config.confidence_ok(count, antecedent_count) and config.lift_ok(
                count, antecedent_count, consequent_count, basket_count):
            yield Rule(antecedents, consequent, count, antecedent_count, consequent_count,
                       basket_count)
