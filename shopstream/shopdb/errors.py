"""Errors of the shop database (the PostgreSQL schema the CDC demo writes and reads).

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(ShopDbError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["ShopDbError"]


class ShopDbError(ShopstreamError):
    """The shop database could not be reached, or refused a statement."""
