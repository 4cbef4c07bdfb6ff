"""The ``basket-patterns`` record: one change of the association rules of recent baskets."""

from __future__ import annotations

import msgspec

__all__ = ["BasketPattern"]


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
