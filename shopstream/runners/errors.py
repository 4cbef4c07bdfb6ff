"""Errors the runners share (each runner has its own module too:
:mod:`shopstream.runners.embedded.errors`, :mod:`shopstream.runners.flink.errors`).

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(RunnerError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["RunnerError"]


class RunnerError(ShopstreamError):
    """A runner could not run a topology as asked."""
