"""The ``basket-patterns`` record: one change of the association rules of recent baskets."""

from __future__ import annotations

import msgspec

__all__ = ["AntecedentRules", "BasketPattern", "RuleSummary"]


class BasketPattern(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A rule that appeared (``NEW``), moved (``UPDATED``) or left (``EXPIRED``) the window.

    Metrics are those of the window after the basket that caused the change (for
    ``EXPIRED``: the last published values); ``previousConfidence`` and ``previousLift``
    are the published values an ``UPDATED`` rule replaces.
    """

    change: str
    antecedents: tuple[str, ...]
    consequent: str
    support: float
    confidence: float
    lift: float
    interestingness: float
    count: int
    antecedent_count: int
    consequent_count: int
    basket_count: int
    detected_at: int
    previous_confidence: float | None = None
    previous_lift: float | None = None


class RuleSummary(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One rule of an antecedent, as served by ``GET /rules``."""

    consequent: str
    support: float
    confidence: float
    lift: float
    interestingness: float
    count: int


class AntecedentRules(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Every current rule of one antecedent, best first (empty: none is left).

    Emitted to ``rules-by-antecedent`` whenever a rule of that antecedent changes, so a
    store can hold the whole answer per antecedent without keeping state of its own.
    """

    antecedents: tuple[str, ...]
    rules: tuple[RuleSummary, ...]
    updated_at: int

