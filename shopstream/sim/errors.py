"""Errors of the traffic simulator.

A simulation's settings raise :class:`~shopstream.errors.ConfigError` at construction.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(SimulationError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["SimulationError"]


class SimulationError(ShopstreamError):
    """A simulation cannot be produced as asked."""
