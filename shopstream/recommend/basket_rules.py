"""BASKET_BASED: association rules whose antecedent is in the basket.

The rules come from the streaming rule miner (``rule-updates``, applied with
:meth:`BasketRules.apply`) or, offline, from this recommender's own window of the latest
baskets fed by :meth:`BasketRules.learn_basket` and mined in batch every
``refresh_every`` baskets (a scheduled refresh: exact for the window at each refresh, and
far cheaper than keeping rules exact after every basket at the low support that
recommendations need). A product's score is that of the best rule
recommending it, in :func:`~shopstream.mining.index.rank_key` order (rules needing more
of the basket first): ``antecedent size + confidence * lift / (1 + lift)``, so a
two-item rule outranks any one-item rule and, within a size, confidence weighs most and
lift breaks near-ties.

Examples
--------
>>> from shopstream.mining import Rule
>>> rec = BasketRules()
>>> rec.index.add(Rule(("bread",), "butter", 30, 60, 80, 1000))
>>> rec.index.add(Rule(("bread", "jam"), "tea", 12, 15, 80, 1000))
>>> ctx = RecContext("s", "u", ("bread", "jam"), frozenset({"bread", "jam"}), 0)
>>> [(s.product_id, round(s.score, 3)) for s in rec.rank(ctx, 5)]
[('tea', 2.727), ('butter', 1.431)]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from shopstream.errors import ConfigError
from shopstream.mining import RuleChange, RuleIndex, RulesConfig, mine_rules
from shopstream.mining.rules import Rule
from shopstream.recommend.base import BASKET_BASED, Basket, RecContext, Recommender, Scored

__all__ = ["BasketRules", "rule_score"]


def rule_score(rule: Rule) -> float:
    """``len(antecedents) + confidence * lift / (1 + lift)``: see the module docs."""
    lift = rule.lift
    return len(rule.antecedents) + rule.confidence * lift / (1.0 + lift)


class BasketRules(Recommender):
    """Rules that fire for the basket (or, before the first add, the viewed products).

    Parameters
    ----------
    rules
        Thresholds of the offline miner (used only by :meth:`learn_basket`).
    window_baskets
        The offline miner keeps the latest this many baskets.
    min_baskets
        The offline miner publishes nothing before this many baskets.
    refresh_every
        Baskets between two offline minings.
    """

    name = BASKET_BASED

    def __init__(self, rules: RulesConfig | None = None, window_baskets: int = 20_000,
                 min_baskets: int = 1_000, refresh_every: int = 1_000) -> None:
        for label, value in (("window_baskets", window_baskets), ("min_baskets", min_baskets),
                             ("refresh_every", refresh_every)):
            if value < 1:
                msg = f"BasketRules.{label} must be >= 1, got {value!r}"
                raise ConfigError(msg)
        self.rules = rules or RulesConfig(min_support=0.001, min_confidence=0.1, max_len=3)
        self.window_baskets = window_baskets
        self.min_baskets = min_baskets
        self.refresh_every = refresh_every
        self.index = RuleIndex()
        self._window: deque[tuple[str, ...]] = deque(maxlen=window_baskets)
        self._since_refresh = 0
        self._mined = False

    def apply(self, changes: Iterable[RuleChange]) -> None:
        """Follow the rule miner's change stream."""
        self.index.apply(changes)

    def learn_basket(self, basket: Basket) -> None:
        self._window.append(basket.items)
        self._since_refresh += 1
        if (len(self._window) >= self.min_baskets
                and (self._since_refresh >= self.refresh_every or not self._mined)):
            self.refresh()

    def refresh(self) -> None:
        """Mine the offline window now and replace the rules with the result."""
        self.index = RuleIndex(mine_rules(self._window, self.rules).rules)
        self._since_refresh = 0
        self._mined = True

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        if k <= 0:
            return []
        source = context.basket or frozenset(context.items[-3:])
        out: list[Scored] = []
        seen: set[str] = set()
        for rule in self.index.match(source):
            product = rule.consequent
            if product in seen or context.excludes(product):
                continue
            seen.add(product)
            out.append(Scored(product, rule_score(rule)))
            if len(out) >= k:
                break
        return out
