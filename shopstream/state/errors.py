"""Errors of the state contract: an operator that uses its keyed state against it.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(StateError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["StateError"]


class StateError(ShopstreamError):
    """An operator declared or used a state against the contract (one name declared as
    two kinds of state, a descriptor no backend knows); the message names the operator
    and the state."""
