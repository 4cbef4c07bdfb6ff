"""diff_rules / apply_changes: the pure change helpers."""

from __future__ import annotations

from shopstream.mining.changes import ChangeKind, apply_changes, change_between, diff_rules
from shopstream.mining.rules import Rule, RuleKey


def _book(*rules: Rule) -> dict[RuleKey, Rule]:
    return {rule.key: rule for rule in rules}


def test_new_updated_expired() -> None:
    a1, a2 = Rule(("a",), "b", 10, 20, 30, 100), Rule(("a",), "b", 20, 20, 30, 100)
    c = Rule(("c",), "d", 5, 5, 5, 100)
    e = Rule(("e",), "f", 5, 5, 5, 100)
    changes = diff_rules(_book(a1, e), _book(a2, c), tolerance=0.1)
    assert [(ch.kind, ch.rule.key) for ch in changes] == [
        (ChangeKind.UPDATED, a2.key), (ChangeKind.NEW, c.key), (ChangeKind.EXPIRED, e.key)]
    assert changes[0].previous == a1


def test_apply_reproduces_current_with_zero_tolerance() -> None:
    before = _book(Rule(("a",), "b", 10, 20, 30, 100), Rule(("x",), "y", 1, 1, 1, 100))
    after = _book(Rule(("a",), "b", 11, 20, 30, 100), Rule(("c",), "d", 5, 5, 5, 100))
    book = dict(before)
    apply_changes(book, diff_rules(before, after, tolerance=0.0))
    assert book == after


def test_keys_limit_the_comparison() -> None:
    before = _book(Rule(("a",), "b", 10, 20, 30, 100))
    assert diff_rules(before, {}, keys=[]) == []
    assert len(diff_rules(before, {}, keys=[(("a",), "b")])) == 1


def test_same_metrics_other_counts_is_not_a_change() -> None:
    # count and basket count doubled: support, confidence, lift identical
    assert change_between(Rule(("a",), "b", 1, 2, 2, 4), Rule(("a",), "b", 2, 4, 4, 8),
                          tolerance=0.0) is None
    assert change_between(None, None, 0.0) is None
