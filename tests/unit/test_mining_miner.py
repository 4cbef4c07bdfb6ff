"""RuleMiner: incremental exact rules equal batch rules; the change stream."""

from __future__ import annotations

import random

import pytest

from shopstream.mining.batch import mine_rules
from shopstream.mining.changes import ChangeKind, apply_changes
from shopstream.mining.config import RulesConfig
from shopstream.mining.errors import UnknownBasketError
from shopstream.mining.miner import RuleMiner
from shopstream.mining.rules import RuleKey
from shopstream.mining.tracker import ItemsetTracker


def _batch(window: list[list[str]], config: RulesConfig) -> dict[RuleKey, object]:
    return {rule.key: rule for rule in mine_rules(window, config).rules}


@pytest.mark.parametrize("seed", range(25))
def test_random_add_evict_equals_batch(seed: int) -> None:
    rng = random.Random(seed)
    items = [f"i{k}" for k in range(rng.randint(4, 14))]
    config = RulesConfig(rng.choice([0.05, 0.1, 0.2, 0.3]), rng.choice([0.0, 0.3, 0.6]),
                         rng.choice([0.0, 1.0, 1.2]), rng.choice([2, 3, 4]))
    miner = RuleMiner(config)
    window: list[list[str]] = []
    limit = rng.randint(3, 30)
    for _ in range(70):
        basket = rng.sample(items, rng.randint(0, min(7, len(items))))
        if rng.random() < 0.7 or not window:
            if len(window) >= limit:
                window.pop(0)
                miner.evict_oldest()
            miner.add_basket(basket)
            window.append(basket)
        else:  # the window shrinks too (the minimum count moves down)
            window.pop(0)
            miner.evict_oldest()
        if rng.random() < 0.5:
            assert miner.rule_map() == _batch(window, config)
            assert miner.itemset_counts() == dict(mine_rules(window, config).itemset_counts)
    assert miner.rule_map() == _batch(window, config)


def test_changes_replay_to_the_current_rules() -> None:
    rng = random.Random(7)
    items = [f"i{k}" for k in range(8)]
    miner = RuleMiner(RulesConfig(0.1, 0.3, 1.0), tolerance=0.0)
    subscriber: dict[RuleKey, object] = {}
    for step in range(200):
        if miner.basket_count >= 25:
            miner.evict_oldest()
        miner.add_basket(rng.sample(items, rng.randint(1, 5)))
        if step % 3 == 0:
            apply_changes(subscriber, miner.changes())  # type: ignore[arg-type]
            # tolerance 0: every metric move is published, so the books agree exactly
            assert subscriber == miner.rule_map()


def test_tolerance_suppresses_small_moves_but_not_drift() -> None:
    miner = RuleMiner(RulesConfig(0.1, 0.1, 0.0), tolerance=0.2)
    for _ in range(10):
        miner.add_basket(["a", "b"])
    first = miner.changes()
    assert {c.kind for c in first} == {ChangeKind.NEW}
    miner.add_basket(["c"])            # support 10/10 -> 10/11: moved 9 %
    assert miner.changes() == []
    miner.add_basket(["c"])            # 10/12 vs published 10/10: moved 17 %
    assert miner.changes() == []
    miner.add_basket(["c"])            # 10/13: moved 23 % since published
    updated = miner.changes()
    assert {c.kind for c in updated} == {ChangeKind.UPDATED}
    assert all(c.previous is not None and c.previous.basket_count == 10 for c in updated)
    assert miner.published()[(("a",), "b")].basket_count == 13


def test_expired_reports_the_last_published_rule() -> None:
    miner = RuleMiner(RulesConfig(0.5, 0.5, 0.0))
    miner.add_basket(["a", "b"])
    assert [c.kind for c in miner.changes()] == [ChangeKind.NEW, ChangeKind.NEW]
    miner.evict_oldest()
    expired = miner.changes()
    assert [c.kind for c in expired] == [ChangeKind.EXPIRED, ChangeKind.EXPIRED]
    assert expired[0].rule.count == 1
    assert miner.published() == {}


def test_remove_unknown_basket_is_a_clear_error() -> None:
    tracker = ItemsetTracker(3)
    tracker.add(["a", "b"])
    with pytest.raises(UnknownBasketError, match=r"\['a', 'c'\]"):
        tracker.remove(["a", "c"])
    with pytest.raises(UnknownBasketError):
        tracker.remove(["zzz"])
    tracker.remove(["b", "a", "a"])
    assert tracker.basket_count == 0
    assert tracker.evict_oldest() is None


def test_counts_and_window_contents() -> None:
    miner = RuleMiner(RulesConfig(0.5))
    for basket in (["b", "a"], ["a", "c"], ["a", "b", "b"]):
        miner.add_basket(basket)
    assert miner.count(["a"]) == 3
    assert miner.count(["a", "b"]) == 2
    assert miner.count(["a", "zzz"]) == 0
    assert miner.count([]) == 3
    assert miner.baskets() == [("a", "b"), ("a", "c"), ("a", "b")]


def test_item_codes_are_reused_after_items_leave() -> None:
    config = RulesConfig(0.3, 0.3, 0.0)
    miner = RuleMiner(config)
    window: list[list[str]] = []
    for k in range(300):
        basket = [f"x{k}", f"x{k + 1}", "common"]
        if len(window) == 5:
            window.pop(0)
            miner.evict_oldest()
        miner.add_basket(basket)
        window.append(basket)
        assert miner.rule_map() == _batch(window, config)
    # only the items of the last window (plus the released ones of one step) hold codes
    assert len(miner._tracker.names) < 20
