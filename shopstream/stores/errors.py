"""Errors of the feature stores.

A store that cannot be opened, read or written raises :class:`StoreError`; a missing
client library raises :class:`~shopstream.errors.MissingDependencyError`, naming the extra
to install. Both are also importable from :mod:`shopstream.stores.base`.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(StoreError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import MissingDependencyError, ShopstreamError

__all__ = ["MissingDependencyError", "StoreError"]


class StoreError(ShopstreamError):
    """A store could not be opened, read or written."""
