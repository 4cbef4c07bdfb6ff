"""POPULAR: the products shoppers acted on most, the baseline and the last fallback.

Each action counts by its kind (:class:`KindWeights`: a view less than an add to cart).
The ranking is rebuilt lazily, at most once per ``refresh_every`` learned actions (or
when the cached list is too short to fill an answer), so a request costs a walk down a
cached list, not a sort of the catalog.

Examples
--------
>>> pop = Popularity()
>>> for i, p in enumerate(["a", "b", "b", "c", "b", "c"]):
...     pop.learn_one(Step("s", "u", p, "ADD_TO_CART", i))
>>> ctx = RecContext("s", "u", ("b",), frozenset({"b"}), 9)
>>> [s.product_id for s in pop.rank(ctx, 5)]
['c', 'a']
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.errors import ConfigError
from shopstream.recommend.base import (
    POPULAR,
    RecContext,
    Recommender,
    Scored,
    Step,
    first_allowed,
)

__all__ = ["KindWeights", "Popularity"]


@dataclass(frozen=True)
class KindWeights:
    """How much one action of each kind says about a product (unknown kinds: 0)."""

    view: float = 0.25
    add: float = 1.0
    purchase: float = 1.0

    def __post_init__(self) -> None:
        for name in ("view", "add", "purchase"):
            value = getattr(self, name)
            if value < 0:
                msg = f"KindWeights.{name} must be >= 0, got {value!r}"
                raise ConfigError(msg)

    def of(self, kind: str) -> float:
        """The weight of an action of event type ``kind``."""
        if kind == "ADD_TO_CART":
            return self.add
        if kind == "VIEW_PRODUCT":
            return self.view
        if kind == "PURCHASE":
            return self.purchase
        return 0.0


class Popularity(Recommender):
    """Weighted action counts over all time.

    Parameters
    ----------
    weights
        Weight of each action kind.
    refresh_every
        Learned actions between two rebuilds of the cached ranking.
    cached
        Length of the cached ranking (requests need ``k`` plus the basket).
    """

    name = POPULAR

    def __init__(self, weights: KindWeights | None = None, refresh_every: int = 256,
                 cached: int = 500) -> None:
        if refresh_every < 1 or cached < 1:
            msg = (f"Popularity needs refresh_every >= 1 and cached >= 1, got "
                   f"{refresh_every!r} and {cached!r}")
            raise ConfigError(msg)
        self.weights = weights or KindWeights()
        self.refresh_every = refresh_every
        self.cached = cached
        self.counts: dict[str, float] = {}
        self._ranked: list[tuple[str, float]] = []
        self._stale = 0

    def learn_one(self, step: Step) -> None:
        weight = self.weights.of(step.kind)
        if weight:
            self.counts[step.product_id] = self.counts.get(step.product_id, 0.0) + weight
            self._stale += 1

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        # A cached list too short to fill the answer may be missing products: rebuild it
        # (cheap, since the catalog seen so far is that small).
        if self._stale and (self._stale >= self.refresh_every
                            or len(self._ranked) < min(self.cached, k + len(context.basket))):
            self._rebuild()
        return first_allowed(self._ranked, k, context)

    def _rebuild(self) -> None:
        ranked = sorted(self.counts.items(), key=lambda pair: (-pair[1], pair[0]))
        self._ranked = ranked[:self.cached]
        self._stale = 0
