"""Errors of the lake."""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["LakeBusyError", "LakeError"]


class LakeError(ShopstreamError):
    """The lake cannot be written or read: a path, a schema or a query is wrong."""


class LakeBusyError(LakeError):
    """Another writer holds the lake's lock (its line names that writer's run)."""
