"""How much one shopper action says about a product: the weights of each action kind,
shared by popularity, trending and the shopper's history.

Examples
--------
>>> KindWeights().of("VIEW_PRODUCT"), KindWeights().of("PURCHASE"), KindWeights().of("SEARCH")
(0.25, 1.0, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from shopstream.errors import ConfigError

__all__ = ["KindWeights"]


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

    def by_kind(self) -> dict[str, float]:
        """The weights by event type, for a hot path to read with ``.get(kind, 0.0)``
        (the same as :meth:`of`).

        Examples
        --------
        >>> KindWeights(view=0.5).by_kind()["VIEW_PRODUCT"]
        0.5
        """
        return {"ADD_TO_CART": self.add, "VIEW_PRODUCT": self.view,
                "PURCHASE": self.purchase}

    def of(self, kind: str) -> float:
        """The weight of an action of event type ``kind``."""
        if kind == "ADD_TO_CART":
            return self.add
        if kind == "VIEW_PRODUCT":
            return self.view
        if kind == "PURCHASE":
            return self.purchase
        return 0.0
