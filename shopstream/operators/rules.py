"""Exact association rules over a sliding window of completed baskets.

Keyed globally (one key): every ``COMPLETED`` basket from ``basket-completions`` enters a
window of the last ``window_baskets`` baskets (and, optionally, only those younger than
``window_ms`` of event time). After every basket the rules held equal a batch mining of
exactly the baskets in the window (:class:`shopstream.mining.RuleMiner` keeps them so).
Each change goes to ``basket-patterns``; the batch of changes of one basket also goes,
unkeyed, to the ``rule-updates`` broadcast for operators that use rules, and every
antecedent whose rules changed gets its whole current list on ``rules-by-antecedent``
(what a store keeps for ``GET /rules``).

Unlike a per-user miner, nothing is published before ``min_baskets`` baskets are in the
window: on a handful of baskets every pair has confidence 1.0 and means nothing.

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.mining import RulesConfig
>>> from shopstream.operators.baskets import BasketTracker
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> def order(ts, *items):
...     return ShopperEvent(EventType.PURCHASE, ts, f"s{ts}", items=tuple(Item(i) for i in items))
>>> miner = RuleMiningOperator(RulesStreamConfig(RulesConfig(min_support=0.5,
...                                                          min_confidence=0.9),
...                                              window_baskets=3, min_baskets=2))
>>> topology = Topology((Stage(BasketTracker(), ("events",), lambda e: e.session_id),
...                      Stage(miner, ("basket-completions",), lambda b: "all")),
...                     sink_streams=("basket-patterns",))
>>> out = run_topology(topology, [order(1, "tea", "milk"), order(2, "tea", "milk"),
...                               order(3, "bread"), order(4, "bread", "jam")])
>>> # bread dilutes support from 1 to 2/3 (UPDATED); evicting an order drops it to 1/3
>>> [(o.record.change, o.record.antecedents, o.record.consequent) for o in out]
[('NEW', ('milk',), 'tea'), ('NEW', ('tea',), 'milk'), ('UPDATED', ('milk',), 'tea'), \
('UPDATED', ('tea',), 'milk'), ('EXPIRED', ('milk',), 'tea'), ('EXPIRED', ('tea',), 'milk')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.patterns import AntecedentRules, BasketPattern, RuleSummary
from shopstream.events.records import BasketCompletion, Output
from shopstream.mining import ChangeKind, RuleChange, RuleIndex, RuleMiner, RulesConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["RuleMiningOperator", "RulesStreamConfig"]


@dataclass(frozen=True)
class RulesStreamConfig:
    """How the streaming rule miner behaves.

    Parameters
    ----------
    rules
        Thresholds and the largest rule size (defaults: support 0.01, confidence 0.3,
        lift 1.0, max_len 3).
    window_baskets
        The window holds at most this many of the latest baskets (default 10,000).
    window_ms
        When set, baskets older than this much event time leave the window too.
    tolerance
        Relative move of support, confidence or lift that counts as ``UPDATED``.
    min_baskets
        Nothing is derived or published until the window holds this many baskets
        (default 1,000: at support 0.01 a rule then needs 10 baskets). On a nearly empty
        window the minimum count is 1, every itemset is "frequent" and deriving them all
        costs seconds per basket for nothing.
    max_basket_items
        Distinct products of one basket that enter the window (default 50, as in
        :class:`~shopstream.mining.budget.MiningBudget`): a longer basket keeps its first
        ones in the order they were bought. A basket of ``n`` items holds ``n**3 / 6``
        itemsets of 3, so without a cap one large order costs cubic time.
    """

    rules: RulesConfig = field(default_factory=RulesConfig)
    window_baskets: int = 10_000
    window_ms: int | None = None
    tolerance: float = 0.05
    min_baskets: int = 1_000
    max_basket_items: int = 50

    def __post_init__(self) -> None:
        if self.max_basket_items < 1:
            msg = ("RulesStreamConfig.max_basket_items must be >= 1, got "
                   f"{self.max_basket_items!r}")
            raise ConfigError(msg)
        if self.window_baskets < 1:
            msg = f"RulesStreamConfig.window_baskets must be >= 1, got {self.window_baskets!r}"
            raise ConfigError(msg)
        if self.window_ms is not None and self.window_ms <= 0:
            msg = f"RulesStreamConfig.window_ms must be > 0, got {self.window_ms!r}"
            raise ConfigError(msg)
        if not 0 <= self.tolerance < 1:
            msg = f"RulesStreamConfig.tolerance must be in [0, 1), got {self.tolerance!r}"
            raise ConfigError(msg)
        if self.min_baskets < 1:
            msg = f"RulesStreamConfig.min_baskets must be >= 1, got {self.min_baskets!r}"
            raise ConfigError(msg)


class _Window:
    """The miner, the event time of each basket in it (oldest first) and the published
    rules indexed by antecedent."""

    def __init__(self, miner: RuleMiner) -> None:
        self.miner = miner
        self.times: deque[int] = deque()
        self.published = False
        self.index = RuleIndex()


_WINDOW = ValueStateDescriptor[_Window]("window")


class RuleMiningOperator(KeyedOperator[BasketCompletion]):
    """Global operator: exact rules of the latest baskets, emitted as changes."""

    name = "rules"
    state_descriptors = (_WINDOW,)

    def __init__(self, config: RulesStreamConfig | None = None) -> None:
        self.config = config or RulesStreamConfig()

    def process_element(self, element: BasketCompletion, ctx: Context) -> Iterable[Output]:
        # First-seen order, capped: the mining work per basket stays bounded.
        items = list(islice(dict.fromkeys(line.product_id for line in element.items),
                            self.config.max_basket_items))
        if element.status != "COMPLETED" or not items:
            return ()
        state = ctx.state(_WINDOW)
        window = state.value()
        if window is None:
            window = _Window(RuleMiner(self.config.rules, self.config.tolerance))
        miner, times, ts = window.miner, window.times, ctx.timestamp_ms
        horizon = self.config.window_ms
        while times and (miner.basket_count >= self.config.window_baskets
                         or (horizon is not None and times[0] <= ts - horizon)):
            miner.evict_oldest()
            times.popleft()
        miner.add_basket(items)
        times.append(ts)
        out: list[Output] = []
        if window.published or miner.basket_count >= self.config.min_baskets:
            window.published = True
            changes = miner.changes()
            out = [Output(streams.BASKET_PATTERNS, _key(c), _pattern(c, ts)) for c in changes]
            if changes:
                out.append(Output(streams.RULE_UPDATES, ctx.key, tuple(changes)))
                window.index.apply(changes)
                touched = sorted({c.rule.antecedents for c in changes})
                out.extend(Output(streams.RULES_BY_ANTECEDENT, "|".join(a),
                                  _antecedent_rules(window.index, a, ts)) for a in touched)
        state.update(window)
        return out


def _antecedent_rules(index: RuleIndex, antecedents: tuple[str, ...],
                      ts: int) -> AntecedentRules:
    rules = tuple(RuleSummary(r.consequent, r.support, r.confidence, r.lift,
                              r.interestingness, r.count)
                  for r in index.for_antecedent(antecedents))
    return AntecedentRules(antecedents, rules, ts)


def _key(change: RuleChange) -> str:
    return "|".join(change.rule.antecedents) + "=>" + change.rule.consequent


def _pattern(change: RuleChange, ts: int) -> BasketPattern:
    rule = change.rule
    previous = change.previous if change.kind is ChangeKind.UPDATED else None
    return BasketPattern(
        change=change.kind.value,
        antecedents=rule.antecedents,
        consequent=rule.consequent,
        support=rule.support,
        confidence=rule.confidence,
        lift=rule.lift,
        interestingness=rule.interestingness,
        count=rule.count,
        antecedent_count=rule.antecedent_count,
        consequent_count=rule.consequent_count,
        basket_count=rule.basket_count,
        detected_at=ts,
        previous_confidence=previous.confidence if previous else None,
        previous_lift=previous.lift if previous else None,
    )
