"""Errors of the command line.

Every :class:`~shopstream.errors.ShopstreamError` a command raises is shown as one line
(``shopstream COMMAND: error: ...``), never a traceback; a bad option value raises
:class:`~shopstream.errors.ConfigError`, unusable input data
:class:`~shopstream.errors.DatasetError`.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(CommandError, ShopstreamError)
True
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["CommandError"]


class CommandError(ShopstreamError):
    """A command cannot run as asked (the message names the command and the option)."""
