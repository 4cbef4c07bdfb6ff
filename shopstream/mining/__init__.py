"""Pure mining algorithms: exact itemset counts and association rules, batch and incremental.

- :class:`RulesConfig` - thresholds, compared with integer counts exactly;
- :func:`mine_rules` - batch mining of a basket collection;
- :func:`mine_within_budget` - the same, at a support raised when a :class:`MiningBudget`
  of itemsets would be exceeded (long baskets at a low support);
- :class:`RuleMiner` - the same rules over a sliding window, basket by basket, with
  :meth:`RuleMiner.changes` giving NEW / UPDATED / EXPIRED rules for a stream;
- :class:`RuleIndex` - the rules that fire for a basket, ranked;
- :class:`ItemsetTracker` - the exact candidate counts under :class:`RuleMiner`, over a
  :class:`BasketWindow` (the coded baskets and each item's baskets);
- :func:`diff_rules` / :func:`apply_changes` - rule-set changes as a pure function.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_exports

if TYPE_CHECKING:
    from shopstream.mining.basket_window import BasketWindow
    from shopstream.mining.batch import MiningResult, frequent_itemsets, mine_rules
    from shopstream.mining.budget import BudgetedMining, MiningBudget, mine_within_budget
    from shopstream.mining.changes import (
        ChangeKind,
        RuleChange,
        apply_changes,
        change_between,
        diff_rules,
    )
    from shopstream.mining.config import RulesConfig
    from shopstream.mining.errors import MiningError, UnknownBasketError
    from shopstream.mining.index import RuleIndex, rank_key
    from shopstream.mining.miner import RuleMiner
    from shopstream.mining.rules import Rule, RuleKey, derive_rules, rule_sort_key
    from shopstream.mining.tracker import ItemsetTracker

__all__ = [
    "BasketWindow",
    "BudgetedMining",
    "ChangeKind",
    "ItemsetTracker",
    "MiningBudget",
    "MiningError",
    "MiningResult",
    "Rule",
    "RuleChange",
    "RuleIndex",
    "RuleKey",
    "RuleMiner",
    "RulesConfig",
    "UnknownBasketError",
    "apply_changes",
    "change_between",
    "derive_rules",
    "diff_rules",
    "frequent_itemsets",
    "mine_rules",
    "mine_within_budget",
    "rank_key",
    "rule_sort_key",
]

# Each name is imported from its module on first use (see shopstream.lazy).
__getattr__ = lazy_exports(__name__, {
    "BasketWindow": "basket_window",
    "BudgetedMining": "budget",
    "ChangeKind": "changes",
    "ItemsetTracker": "tracker",
    "MiningBudget": "budget",
    "MiningError": "errors",
    "MiningResult": "batch",
    "Rule": "rules",
    "RuleChange": "changes",
    "RuleIndex": "index",
    "RuleKey": "rules",
    "RuleMiner": "miner",
    "RulesConfig": "config",
    "UnknownBasketError": "errors",
    "apply_changes": "changes",
    "change_between": "changes",
    "derive_rules": "rules",
    "diff_rules": "changes",
    "frequent_itemsets": "batch",
    "mine_rules": "batch",
    "mine_within_budget": "budget",
    "rank_key": "index",
    "rule_sort_key": "rules",
}, globals())
