"""A shopper's own history, as PERSONAL reads it: kept per user, bounded, decaying.

Every action adds its kind's weight (:class:`~shopstream.recommend.popularity.KindWeights`)
to the product's score, after the score decays by ``0.5 ** (age / half_life_ms)``. At
most ``capacity`` products are kept (up to twice as many between prunes, the weakest
dropped), so the state of one shopper is ``O(capacity)`` whatever their history, and an
action costs ``O(1)`` amortised.

Examples
--------
>>> cfg = HistoryConfig(capacity=2, half_life_ms=1_000)
>>> h = UserHistory()
>>> for t, (p, kind) in enumerate([("milk", "PURCHASE"), ("eggs", "VIEW_PRODUCT"),
...                                ("milk", "ADD_TO_CART")]):
...     h.learn(p, kind, t, cfg)
>>> [(p, round(s, 3)) for p, s in h.top(2, 2, cfg)]
[('milk', 1.999), ('eggs', 0.25)]
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Container
from dataclasses import dataclass, field

from shopstream.errors import require_positive
from shopstream.recommend.popularity import KindWeights

__all__ = ["HistoryConfig", "UserHistory"]


@dataclass(frozen=True)
class HistoryConfig:
    """Caps and decay of a shopper's history.

    Parameters
    ----------
    capacity
        Products kept per shopper.
    half_life_ms
        Event time after which a past action counts half (default 30 days).
    weights
        Weight of each action kind.
    """

    capacity: int = 50
    half_life_ms: int = 30 * 86_400_000
    weights: KindWeights = field(default_factory=KindWeights)

    def __post_init__(self) -> None:
        require_positive(self, "capacity", "half_life_ms")


class UserHistory:
    """Decayed, kind-weighted action scores of one shopper's products.

    Scores are kept "lifted" to the shopper's first action (``score * 2 ** ((t - base) /
    half_life)``): decay scales every score alike, so the order never changes with time
    and a sorted list updated on each action answers :meth:`top` without sorting.
    """

    __slots__ = ("base_ms", "lifted", "order")

    def __init__(self) -> None:
        self.base_ms: int | None = None
        #: product -> lifted score
        self.lifted: dict[str, float] = {}
        #: ``(-lifted score, product)``, strongest first
        self.order: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self.lifted)

    def learn(self, product: str, kind: str, timestamp_ms: int, config: HistoryConfig) -> None:
        """Add one action of ``kind`` on ``product``."""
        self.add(product, config.weights.of(kind), timestamp_ms, config)

    def add(self, product: str, weight: float, timestamp_ms: int,
            config: HistoryConfig) -> None:
        """:meth:`learn` with the action's weight already looked up (nothing when 0).
        Cost: ``O(capacity)`` (a bisection and a list insertion), amortised."""
        if not weight:
            return
        if self.base_ms is None:
            self.base_ms = timestamp_ms
        exponent = (timestamp_ms - self.base_ms) / config.half_life_ms
        if exponent > 200:  # keep lifted scores far from float overflow: rebase
            self._rebase(timestamp_ms, config)
            exponent = 0.0
        lifted, order = self.lifted, self.order
        old = lifted.get(product)
        new = (old or 0.0) + weight * 2.0 ** exponent
        lifted[product] = new
        if old is not None:
            del order[bisect_left(order, (-old, product))]
        insort(order, (-new, product))
        if len(order) > 2 * config.capacity:
            del order[config.capacity:]
            self.lifted = {p: -v for v, p in order}

    def top(self, n: int, now_ms: int, config: HistoryConfig) -> tuple[tuple[str, float], ...]:
        """The ``n`` strongest products at ``now_ms`` with their scores (ties: smaller id).
        Cost: ``O(n)``."""
        if self.base_ms is None:
            return ()
        scale = 2.0 ** (-(now_ms - self.base_ms) / config.half_life_ms)
        return tuple((p, -v * scale) for v, p in self.order[:n])

    def products(self, n: int) -> tuple[str, ...]:
        """The ``n`` strongest products, strongest first (what a request carries).
        Cost: ``O(n)``."""
        return tuple([p for _, p in self.order[:n]])

    def past(self, n: int, session: Container[str], cart: Container[str]
             ) -> tuple[str, ...]:
        """Of the ``n`` strongest products, strongest first, those neither in
        ``session`` nor in ``cart``: what PERSONAL may recommend during that session
        (empty for a shopper whose history is all in it). Cost: ``O(n)``.

        Examples
        --------
        >>> h = UserHistory()
        >>> for t, p in enumerate(["a", "b", "c"]):
        ...     h.learn(p, "PURCHASE", t, HistoryConfig())
        >>> h.products(2), h.past(2, {"c": None}, {}), h.past(3, {"c"}, {"a"})
        (('c', 'b'), ('b',), ('b',))
        """
        if not cart:  # the usual call: the caller folded the cart into ``session``
            return tuple([p for _, p in self.order[:n] if p not in session])
        return tuple([p for _, p in self.order[:n] if p not in session and p not in cart])

    def _rebase(self, now_ms: int, config: HistoryConfig) -> None:
        base = self.base_ms if self.base_ms is not None else now_ms
        scale = 2.0 ** (-(now_ms - base) / config.half_life_ms)
        self.base_ms = now_ms
        self.order = [(v * scale, p) for v, p in self.order]
        self.lifted = {p: -v for v, p in self.order}
