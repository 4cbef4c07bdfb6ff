"""Errors of the feature stores.

:class:`StoreError` is still defined in :mod:`shopstream.stores.base` (another change is
under way there); this is its per-package import path. A missing client library raises
:class:`~shopstream.errors.MissingDependencyError`, naming the extra to install.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(StoreError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import MissingDependencyError
from shopstream.stores.base import StoreError

__all__ = ["MissingDependencyError", "StoreError"]
