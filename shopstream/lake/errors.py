"""Errors of the lake."""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["LakeError"]


class LakeError(ShopstreamError):
    """The lake cannot be written or read: a path, a schema or a query is wrong."""
