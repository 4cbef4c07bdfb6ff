"""Rule-set changes between two derivations: NEW, UPDATED and EXPIRED.

A streaming operator publishes rules to ``basket-patterns`` and must not flood it with
every tiny drift of a metric. It keeps the *published* version of each rule and
compares the current one with that, not with the previous window: a rule whose support
creeps up by 0.1 % per basket is re-published once the total drift passes the
tolerance, instead of never.

Examples
--------
>>> old = {("a",): Rule(("a",), "b", 10, 20, 30, 100)}
>>> published = {r.key: r for r in old.values()}
>>> current = {r.key: r for r in [Rule(("a",), "b", 11, 20, 30, 100),
...                                Rule(("c",), "d", 5, 5, 9, 100)]}
>>> [(c.kind.value, c.rule.key) for c in diff_rules(published, current, tolerance=0.05)]
[('UPDATED', (('a',), 'b')), ('NEW', (('c',), 'd'))]
>>> [(c.kind.value, c.rule.key) for c in diff_rules(current, {}, tolerance=0.05)]
[('EXPIRED', (('a',), 'b')), ('EXPIRED', (('c',), 'd'))]
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, MutableMapping

import msgspec

from shopstream.mining.rules import Rule, RuleKey

__all__ = ["ChangeKind", "RuleChange", "apply_changes", "change_between", "diff_rules"]


class ChangeKind(enum.StrEnum):
    """How a rule changed."""

    NEW = "NEW"
    UPDATED = "UPDATED"
    EXPIRED = "EXPIRED"


class RuleChange(msgspec.Struct, frozen=True, rename="camel"):
    """One change of the rule set.

    ``rule`` is the current rule (for ``EXPIRED``: the last published version);
    ``previous`` is the published version an ``UPDATED`` rule replaces.
    """

    kind: ChangeKind
    rule: Rule
    previous: Rule | None = None


def _moved(old: float, new: float, tolerance: float) -> bool:
    return not math.isclose(old, new, rel_tol=tolerance, abs_tol=0.0) if tolerance > 0 \
        else old != new


def change_between(published: Rule | None, current: Rule | None,
                   tolerance: float) -> RuleChange | None:
    """The change that turns ``published`` into ``current`` (``None``: nothing to say).

    ``UPDATED`` when support, confidence or lift moved by more than ``tolerance`` relative
    to the published value (with ``tolerance == 0``, any change of a metric).

    Examples
    --------
    >>> a = Rule(("x",), "y", 100, 200, 300, 1000)
    >>> change_between(a, Rule(("x",), "y", 101, 200, 300, 1000), tolerance=0.05) is None
    True
    >>> change_between(a, Rule(("x",), "y", 120, 200, 300, 1000), tolerance=0.05).kind
    <ChangeKind.UPDATED: 'UPDATED'>
    """
    if current is None:
        return None if published is None else RuleChange(ChangeKind.EXPIRED, published)
    if published is None:
        return RuleChange(ChangeKind.NEW, current)
    if (_moved(published.support, current.support, tolerance)
            or _moved(published.confidence, current.confidence, tolerance)
            or _moved(published.lift, current.lift, tolerance)):
        return RuleChange(ChangeKind.UPDATED, current, published)
    return None


def diff_rules(published: Mapping[RuleKey, Rule], current: Mapping[RuleKey, Rule],
               tolerance: float = 0.05, keys: Iterable[RuleKey] | None = None
               ) -> list[RuleChange]:
    """Changes from ``published`` to ``current``, in key order.

    ``keys`` limits the comparison to the rules that may have changed (an incremental
    caller knows them); by default every key of either side is compared.
    """
    wanted = set(published).union(current) if keys is None else set(keys)
    changes = []
    for key in sorted(wanted):
        change = change_between(published.get(key), current.get(key), tolerance)
        if change is not None:
            changes.append(change)
    return changes


def apply_changes(published: MutableMapping[RuleKey, Rule],
                  changes: Iterable[RuleChange]) -> None:
    """Bring ``published`` up to date with ``changes`` (what a subscriber would hold).

    Examples
    --------
    >>> book = {}
    >>> apply_changes(book, [RuleChange(ChangeKind.NEW, Rule(("a",), "b", 1, 1, 1, 1))])
    >>> list(book)
    [(('a',), 'b')]
    """
    for change in changes:
        if change.kind is ChangeKind.EXPIRED:
            published.pop(change.rule.key, None)
        else:
            published[change.rule.key] = change.rule
