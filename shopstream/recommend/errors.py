"""Errors of the recommenders.

A recommender's configuration raises :class:`~shopstream.errors.ConfigError` at
construction.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(RecommendError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["RecommendError"]


class RecommendError(ShopstreamError):
    """A recommender was asked for something it cannot do."""
