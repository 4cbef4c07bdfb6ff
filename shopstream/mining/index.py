"""Fast lookup of the rules that fire for a basket.

Rules are indexed by their antecedent itemset. A query takes the basket's items that
occur in some antecedent, enumerates their subsets of up to the longest antecedent's
size, and collects the rules of each subset: for a basket of ``b`` such items and
antecedents of at most 2 items that is ``b + b(b-1)/2`` dictionary look-ups, however many
rules there are.

Ranking (best first): more antecedent items first (a rule that needs more of the basket
is more specific), then higher confidence, higher lift, higher count, then antecedents and
consequent alphabetically so the order is total.

Examples
--------
>>> index = RuleIndex([Rule(("bread",), "butter", 30, 60, 80, 1000),
...                    Rule(("bread", "jam"), "butter", 12, 15, 80, 1000),
...                    Rule(("jam",), "bread", 15, 40, 60, 1000)])
>>> [(r.antecedents, r.consequent) for r in index.match(["jam", "bread"])]
[(('bread', 'jam'), 'butter'), (('bread',), 'butter')]
>>> [(r.antecedents, r.consequent) for r in index.match(["jam"])]
[(('jam',), 'bread')]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import combinations

from shopstream.mining.changes import ChangeKind, RuleChange
from shopstream.mining.rules import Rule, RuleKey

__all__ = ["RuleIndex", "rank_key"]


def rank_key(rule: Rule) -> tuple[int, float, float, int, tuple[str, ...], str]:
    """The ranking of :class:`RuleIndex` as a sort key (smaller is better).

    Examples
    --------
    >>> one, two = Rule(("a",), "c", 5, 10, 9, 100), Rule(("a", "b"), "c", 2, 9, 9, 100)
    >>> sorted([one, two], key=rank_key)[0] is two
    True
    """
    return (-len(rule.antecedents), -rule.confidence, -rule.lift, -rule.count,
            rule.antecedents, rule.consequent)


class RuleIndex:
    """Rules by antecedent, answering "which rules fire for this basket".

    Parameters
    ----------
    rules
        Initial rules; :meth:`apply` keeps the index current from a change stream.
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._by_antecedent: dict[tuple[str, ...], dict[str, Rule]] = {}
        self._item_uses: Counter[str] = Counter()
        self._longest: Counter[int] = Counter()
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return sum(len(rules) for rules in self._by_antecedent.values())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        rules = self._by_antecedent.get(key[0])
        return rules is not None and key[1] in rules

    def add(self, rule: Rule) -> None:
        """Insert ``rule`` or replace the rule with the same key."""
        rules = self._by_antecedent.setdefault(rule.antecedents, {})
        if rule.consequent not in rules:
            self._item_uses.update(rule.antecedents)
            self._longest[len(rule.antecedents)] += 1
        rules[rule.consequent] = rule

    def discard(self, key: RuleKey) -> None:
        """Remove the rule with this key, if present."""
        antecedents, consequent = key
        rules = self._by_antecedent.get(antecedents)
        if rules is None or rules.pop(consequent, None) is None:
            return
        if not rules:
            del self._by_antecedent[antecedents]
        self._item_uses.subtract(antecedents)
        for item in antecedents:
            if self._item_uses[item] <= 0:
                del self._item_uses[item]
        self._longest[len(antecedents)] -= 1
        if self._longest[len(antecedents)] <= 0:
            del self._longest[len(antecedents)]

    def apply(self, changes: Iterable[RuleChange]) -> None:
        """Follow a stream of rule changes (what ``basket-patterns`` carries).

        Examples
        --------
        >>> index = RuleIndex()
        >>> index.apply([RuleChange(ChangeKind.NEW, Rule(("a",), "b", 3, 4, 5, 10))])
        >>> len(index), (("a",), "b") in index
        (1, True)
        """
        for change in changes:
            if change.kind is ChangeKind.EXPIRED:
                self.discard(change.rule.key)
            else:
                self.add(change.rule)

    def for_antecedent(self, antecedents: Iterable[str]) -> list[Rule]:
        """The rules whose antecedent is exactly ``antecedents`` (any order), best first."""
        rules = self._by_antecedent.get(tuple(sorted(set(antecedents))))
        return [] if rules is None else sorted(rules.values(), key=rank_key)

    def match(self, basket: Iterable[str], limit: int | None = None,
              exclude_present: bool = True) -> list[Rule]:
        """The rules whose antecedents are all in ``basket``, best first.

        Parameters
        ----------
        basket
            Items in the basket (order and duplicates do not matter).
        limit
            At most this many rules (all by default).
        exclude_present
            Leave out rules whose consequent is already in the basket (they recommend
            nothing new).
        """
        present = set(basket)
        usable = sorted(item for item in present if item in self._item_uses)
        longest = max(self._longest, default=0)
        found: list[Rule] = []
        by_antecedent = self._by_antecedent
        for size in range(1, min(longest, len(usable)) + 1):
            for antecedents in combinations(usable, size):
                rules = by_antecedent.get(antecedents)
                if rules is None:
                    continue
                if exclude_present:
                    found.extend(r for c, r in rules.items() if c not in present)
                else:
                    found.extend(rules.values())
        found.sort(key=rank_key)
        return found if limit is None else found[:limit]

    def recommend(self, basket: Iterable[str], limit: int = 10) -> list[Rule]:
        """The best rule for each consequent not in ``basket``, best first.

        Examples
        --------
        >>> index = RuleIndex([Rule(("a",), "c", 3, 4, 5, 10), Rule(("b",), "c", 2, 4, 5, 10)])
        >>> [r.antecedents for r in index.recommend(["a", "b"])]
        [('a',)]
        """
        best: dict[str, Rule] = {}
        for rule in self.match(basket):
            best.setdefault(rule.consequent, rule)
        return list(best.values())[:limit]
