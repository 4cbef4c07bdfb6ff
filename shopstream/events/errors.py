"""Errors of the event model.

:class:`~shopstream.errors.DecodeError` (an input record that cannot become a canonical
event; its ``stage`` says where it failed) is defined with the shared errors because
every door raises it; it is this package's error, re-exported here.

Examples
--------
>>> DecodeError("ADD_TO_CART needs a productId", stage="validate").stage
'validate'
"""

from __future__ import annotations

from shopstream.errors import DecodeError

__all__ = ["DecodeError"]
