"""Errors of the operators.

An operator's configuration raises :class:`~shopstream.errors.ConfigError` at
construction; an operator misusing its state raises
:class:`~shopstream.state.errors.StateError`. Whatever an operator raises while it runs
stops the pipeline that hosts it (a runner never skips the element).

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(OperatorError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["OperatorError"]


class OperatorError(ShopstreamError):
    """An operator cannot process an element; the message names the operator, the key
    and the value."""
