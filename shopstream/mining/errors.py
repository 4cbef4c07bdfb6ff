"""Errors of the mining package."""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["MiningError", "UnknownBasketError"]


class MiningError(ShopstreamError):
    """A mining structure was asked for something it cannot do."""


class UnknownBasketError(MiningError, LookupError):
    """A basket to evict is not in the window."""
