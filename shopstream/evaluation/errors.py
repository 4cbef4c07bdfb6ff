"""Errors of the offline evaluation (recommenders replayed over real sessions).

Sessions that cannot be read raise :class:`~shopstream.errors.DatasetError`; a bad
setting raises :class:`~shopstream.errors.ConfigError`.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(EvaluationError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["EvaluationError"]


class EvaluationError(ShopstreamError):
    """An evaluation cannot be carried out as asked."""
