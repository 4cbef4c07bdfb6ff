"""Errors of the profiles package."""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["ProfileError"]


class ProfileError(ShopstreamError, ValueError):
    """A profile model got data it cannot use, or its fit did not converge."""
