"""Incremental exact association rules over a sliding window of baskets.

What a streaming operator calls, per basket of a count window of ``W`` baskets::

    if miner.basket_count == W:
        miner.evict_oldest()        # evict first: the window never exceeds W
    miner.add_basket(items)
    for change in miner.changes():  # NEW / UPDATED / EXPIRED since the last call
        emit(change)

The rules are exact at every call (equal to batch mining of exactly the window). The
cost of :meth:`RuleMiner.changes` depends on what moved since the previous call:

- always: the rules whose own itemset count changed (subsets of the baskets that came
  and went) are re-checked;
- ``N``, an antecedent's or a consequent's count moved: only the rules whose registered
  stable box was left are re-checked (:mod:`shopstream.mining.watch`): a confidence or
  lift threshold may have been crossed, or a metric drifted past the tolerance of the
  published version;
- the minimum count ``ceil(min_support * N)`` changed (every ``1 / min_support`` baskets
  while a window fills): the frequent itemsets are re-selected and every rule is
  re-checked, ``O(frequent itemsets)``.

Examples
--------
>>> miner = RuleMiner(RulesConfig(min_support=0.5, min_confidence=0.9))
>>> for basket in [["tea", "milk"], ["tea", "milk"], ["bread"]]:
...     miner.add_basket(basket)
>>> [(c.kind.value, c.rule.antecedents, c.rule.consequent) for c in miner.changes()]
[('NEW', ('milk',), 'tea'), ('NEW', ('tea',), 'milk')]
>>> miner.evict_oldest()
('milk', 'tea')
>>> miner.add_basket(["bread", "jam"])
>>> [(c.kind.value, c.rule.antecedents, c.rule.consequent) for c in miner.changes()]
[('EXPIRED', ('milk',), 'tea'), ('EXPIRED', ('tea',), 'milk')]
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

from shopstream.mining.changes import ChangeKind, RuleChange, change_between
from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import Rule, RuleKey, rule_sort_key
from shopstream.mining.tracker import Codes, ItemsetTracker
from shopstream.mining.watch import CodedKey, Watch, stable_bounds

__all__ = ["RuleMiner"]


class RuleMiner:
    """Exact itemset counts and rules of a window, updated basket by basket.

    Parameters
    ----------
    config
        Thresholds and the largest rule size.
    tolerance
        Relative move of support, confidence or lift that makes :meth:`changes` report a
        published rule as ``UPDATED``.
    """

    def __init__(self, config: RulesConfig | None = None, tolerance: float = 0.05) -> None:
        self.config = config if config is not None else RulesConfig()
        self.tolerance = tolerance
        self._tracker = ItemsetTracker(self.config.max_len)
        self._frequent: set[Codes] = set()
        # rules passing all thresholds, and the id of every rule the miner looks after
        self._kept: set[CodedKey] = set()
        self._names: dict[CodedKey, RuleKey] = {}
        self._coded: dict[RuleKey, CodedKey] = {}
        self._watch = Watch()
        # count of each antecedent / consequent when the miner last looked at it
        self._seen_counts: dict[Codes, int] = {}
        self._published: dict[RuleKey, Rule] = {}
        self._pending: set[RuleKey] = set()
        self._pending_all = False
        self._derived: tuple[int, int, int] | None = None  # (N, min count, gate moves)

    # -- the window ------------------------------------------------------------------

    @property
    def basket_count(self) -> int:
        """Number of baskets in the window."""
        return self._tracker.basket_count

    def add_basket(self, items: Iterable[str]) -> None:
        """Put a basket into the window (an item counts once per basket)."""
        tracker = self._tracker
        tracker.add(items)
        wanted = self.config.min_count(tracker.basket_count)
        # Lagging one behind the minimum count lets "add, then evict" pass without
        # moving the gate back and forth.
        if wanted > tracker.gate + 1:
            tracker.set_gate(wanted - 1)

    def evict_oldest(self) -> tuple[str, ...] | None:
        """Take the oldest basket out of the window; return its sorted items."""
        return self._tracker.evict_oldest()

    def baskets(self) -> list[tuple[str, ...]]:
        """The window's baskets, oldest first."""
        return list(self._tracker.baskets())

    # -- counts ----------------------------------------------------------------------

    def count(self, items: Iterable[str]) -> int:
        """Exact number of baskets in the window holding every item of ``items``."""
        return self._tracker.count(items)

    def itemset_counts(self) -> dict[tuple[str, ...], int]:
        """Every itemset of 1 to ``max_len`` items whose count reaches the minimum count.

        Examples
        --------
        >>> miner = RuleMiner(RulesConfig(min_support=1.0))
        >>> miner.add_basket(["b", "a"]); miner.add_basket(["a", "b", "c"])
        >>> miner.itemset_counts()
        {('a',): 2, ('b',): 2, ('a', 'b'): 2}
        """
        tracker = self._tracker
        min_count = self.config.min_count(tracker.basket_count)
        self._ensure_gate(min_count)
        names = tracker.names
        found: dict[tuple[str, ...], int] = {
            (names[code],): len(holders) for code, holders in enumerate(tracker.tids)
            if len(holders) >= min_count}
        for level in tracker.levels[2:]:
            for itemset, n in level.items():
                if n >= min_count:
                    found[tuple(sorted(names[code] for code in itemset))] = n
        return dict(sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0])))

    # -- rules -----------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        """The exact rules of the current window, in canonical order."""
        return sorted(self.rule_map().values(), key=rule_sort_key)

    def rule_map(self) -> dict[RuleKey, Rule]:
        """The exact rules of the current window by key."""
        self._derive()
        return {self._names[key]: self._materialize(key) for key in self._kept}

    def changes(self) -> list[RuleChange]:
        """What changed since the last call, against what was published then.

        A ``NEW`` or ``UPDATED`` rule becomes the published version; an ``EXPIRED`` rule
        is forgotten. Rules whose metrics moved less than the tolerance stay as published.
        """
        self._derive()
        published, kept, coded = self._published, self._kept, self._coded
        if self._pending_all:
            keys = set(published).union(self._names[key] for key in kept)
        else:
            keys = self._pending
        changes = []
        for key in sorted(keys):
            code_key = coded.get(key)
            current = self._materialize(code_key) if code_key in kept else None
            change = change_between(published.get(key), current, self.tolerance)
            if change is None:
                continue
            changes.append(change)
            if change.kind is ChangeKind.EXPIRED:
                del published[key]
            else:
                published[key] = change.rule
            if code_key is not None:
                self._evaluate(code_key)  # its stable interval depends on the published rule
        self._pending = set()
        self._pending_all = False
        return changes

    def published(self) -> dict[RuleKey, Rule]:
        """The rules as last reported by :meth:`changes`."""
        return dict(self._published)

    # -- derivation ------------------------------------------------------------------

    def _ensure_gate(self, min_count: int) -> None:
        tracker = self._tracker
        if tracker.gate > min_count:
            tracker.set_gate(min_count - 1)

    def _derive(self) -> None:
        tracker = self._tracker
        basket_count = tracker.basket_count
        min_count = self.config.min_count(basket_count)
        self._ensure_gate(min_count)
        dirty_items, dirty_sets = tracker.take_dirty()
        previous = self._derived
        self._derived = (basket_count, min_count, tracker.gate_moves)
        if previous is None or previous[1:] != self._derived[1:]:
            self._select_frequent(min_count)
            self._derive_all()
        elif dirty_items or dirty_sets or previous[0] != basket_count:
            self._derive_changed(dirty_items, dirty_sets, previous[0], min_count)
        self._release()

    def _release(self) -> None:
        tracker = self._tracker
        for code in tracker.release_codes():
            self._seen_counts.pop((code,), None)

    def _select_frequent(self, min_count: int) -> None:
        """Re-select the frequent itemsets among all tracked ones."""
        self._frequent = {itemset for level in self._tracker.levels[2:]
                          for itemset, n in level.items() if n >= min_count}

    def _update_frequent(self, dirty_sets: Iterable[Codes], min_count: int) -> None:
        level_of = self._tracker.levels
        frequent = self._frequent
        for itemset in dirty_sets:
            if level_of[len(itemset)].get(itemset, 0) >= min_count:
                frequent.add(itemset)
            else:
                frequent.discard(itemset)

    def _derive_all(self) -> None:
        """Every rule of every frequent itemset, from scratch."""
        self._kept = set()
        self._names = {}
        self._coded = {}
        self._watch.clear()
        self._seen_counts = {}
        for itemset in self._frequent:
            for i in range(len(itemset)):
                self._evaluate((itemset, i))
        self._pending = set()
        self._pending_all = True

    def _derive_changed(self, dirty_items: set[int], dirty_sets: set[Codes],
                        previous_count: int, min_count: int) -> None:
        """Re-check the rules whose count changed, and those woken by other counts moving."""
        frequent, watch, tracker = self._frequent, self._watch, self._tracker
        was_frequent = {itemset for itemset in dirty_sets if itemset in frequent}
        self._update_frequent(dirty_sets, min_count)
        touched: set[CodedKey] = set()
        for itemset in dirty_sets:
            if itemset in frequent or itemset in was_frequent:
                touched.update((itemset, i) for i in range(len(itemset)))
        seen = self._seen_counts
        for itemset in chain(dirty_sets, ((code,) for code in dirty_items)):
            before = seen.get(itemset)
            if before is not None:
                now = tracker.itemset_count(itemset)
                if now != before:
                    touched |= watch.due_count(itemset, before, now)
                    if now:
                        seen[itemset] = now
                    else:
                        del seen[itemset]  # gone from the window: no rule uses it
        if previous_count != tracker.basket_count:
            touched |= watch.due_n(previous_count, tracker.basket_count)
        pending = self._pending
        for key in touched:
            name = self._evaluate(key)
            if name is not None:
                pending.add(name)

    def _evaluate(self, key: CodedKey) -> RuleKey | None:
        """Re-check one rule against the thresholds; re-register its wake-up.

        Returns the rule's id if the rule is (or was) one the miner looks after.
        """
        itemset, i = key
        if itemset not in self._frequent:
            self._watch.unwatch(key)
            self._kept.discard(key)
            name = self._names.pop(key, None)
            if name is not None:
                del self._coded[name]
            return name
        tracker, config = self._tracker, self.config
        count = tracker.itemset_count(itemset)
        antecedent = itemset[:i] + itemset[i + 1:]
        antecedent_count = tracker.itemset_count(antecedent)
        consequent = itemset[i]
        consequent_count = tracker.item_count(consequent)
        name = self._names.get(key)
        if name is None:
            name = _decode_key(itemset, i, tracker.names)
            self._names[key] = name
            self._coded[name] = key
        kept, bounds = stable_bounds(
            count, antecedent_count, consequent_count, tracker.basket_count,
            config.confidence_fraction, config.lift_fraction, self._published.get(name),
            self.tolerance)
        if kept:
            self._kept.add(key)
        else:
            self._kept.discard(key)
        seen = self._seen_counts
        seen.setdefault(antecedent, antecedent_count)
        seen.setdefault((consequent,), consequent_count)
        self._watch.watch(key, bounds, antecedent, consequent)
        return name

    def _materialize(self, key: CodedKey) -> Rule:
        itemset, i = key
        tracker = self._tracker
        antecedents, consequent = self._names[key]
        return Rule(antecedents, consequent, tracker.itemset_count(itemset),
                    tracker.itemset_count(itemset[:i] + itemset[i + 1:]),
                    tracker.item_count(itemset[i]), tracker.basket_count)


def _decode_key(itemset: Codes, i: int, names: list[str]) -> RuleKey:
    antecedent = itemset[:i] + itemset[i + 1:]
    return tuple(sorted(names[code] for code in antecedent)), names[itemset[i]]
