"""Keeping the action mix on target while sessions stay coherent.

Coherence rules (remove only what is in the cart, add mostly what was just viewed, buy
only a non-empty cart) bend the raw move weights, so the shares drift. The
:class:`MixController` counts what was generated and returns a multiplier per action
type: above 1 for types behind their target share, below 1 for types ahead of it. It is
a feedback loop, so over a long run every share converges on its target.

Examples
--------
>>> from shopstream.events.model import EventType
>>> mix = MixController()
>>> for _ in range(90):
...     mix.record(EventType.VIEW_PRODUCT)
>>> f = mix.factors()
>>> f[VIEW] < 1 < f[ADD]
True
>>> round(sum(TARGET_SHARES.values()), 6)
1.0
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

from shopstream.events.model import EventType

__all__ = ["ADD", "BROWSE", "MIX_TYPES", "PURCHASE", "REMOVE", "TARGET_SHARES", "VIEW",
           "WISH", "MixController"]

MIX_TYPES: Final = (
    EventType.VIEW_PRODUCT,
    EventType.ADD_TO_CART,
    EventType.ADD_TO_WISHLIST,
    EventType.REMOVE_FROM_CART,
    EventType.PURCHASE,
    EventType.BROWSE_CATEGORY,
)
"""The six action types whose shares are controlled, in factor order."""
VIEW, ADD, WISH, REMOVE, PURCHASE, BROWSE = range(6)

TARGET_SHARES: Final = MappingProxyType({
    EventType.VIEW_PRODUCT: 0.40,
    EventType.ADD_TO_CART: 0.20,
    EventType.ADD_TO_WISHLIST: 0.15,
    EventType.REMOVE_FROM_CART: 0.10,
    EventType.PURCHASE: 0.10,
    EventType.BROWSE_CATEGORY: 0.05,
})
"""Target share of each controlled type among the six."""

_INDEX: Final = {t: i for i, t in enumerate(MIX_TYPES)}
_TARGETS: Final = tuple(TARGET_SHARES[t] for t in MIX_TYPES)
_REFRESH: Final = 32


class MixController:
    """Counts generated actions and steers the next ones toward the target shares.

    Parameters
    ----------
    prior
        Pseudo-count of events at exactly the target mix; keeps the first few sessions
        from being steered by a handful of events.
    gain
        Exponent applied to the ratio target/observed: higher corrects faster.

    Examples
    --------
    >>> mix = MixController()
    >>> mix.record_all([EventType.PURCHASE] * 50 + [EventType.SEARCH])
    >>> mix.shares()[EventType.PURCHASE]
    1.0
    >>> f = mix.factors()
    >>> f[PURCHASE] < 1 < f[VIEW]
    True
    """

    def __init__(self, prior: float = 200.0, gain: float = 16.0) -> None:
        self.prior = prior
        self.gain = gain
        self.counts = [0] * len(MIX_TYPES)
        self._cached: tuple[float, ...] = ()
        self._cached_at = -_REFRESH


    def record(self, event_type: EventType) -> None:
        """Count one generated event (types outside the mix are ignored)."""
        i = _INDEX.get(event_type)
        if i is not None:
            self.counts[i] += 1

    def record_all(self, event_types: Iterable[EventType]) -> None:
        """Count several generated events."""
        counts, index = self.counts, _INDEX
        for event_type in event_types:
            i = index.get(event_type)
            if i is not None:
                counts[i] += 1

    def factors(self) -> tuple[float, ...]:
        """One weight multiplier per type of :data:`MIX_TYPES`, clamped to [1/8, 8].

        Recomputed only every few dozen events: the shares barely move in between.
        """
        counted = sum(self.counts)
        if counted - self._cached_at < _REFRESH:
            return self._cached
        self._cached_at = counted
        total = counted + self.prior
        out = []
        for target, count in zip(_TARGETS, self.counts, strict=True):
            ratio = target * total / (count + target * self.prior)
            out.append(min(8.0, max(0.125, ratio**self.gain)))
        self._cached = tuple(out)
        return self._cached

    def shares(self) -> dict[EventType, float]:
        """Observed share of each controlled type so far (0 before any event)."""
        total = sum(self.counts)
        return {t: (c / total if total else 0.0)
                for t, c in zip(MIX_TYPES, self.counts, strict=True)}
