"""Errors of the privacy package: erasure, retention and pseudonymisation.

Examples
--------
>>> from shopstream.errors import ShopstreamError
>>> issubclass(ErasureError, PrivacyError), issubclass(PrivacyError, ShopstreamError)
(True, True)
"""

from __future__ import annotations

from shopstream.errors import ShopstreamError

__all__ = ["ErasureError", "PrivacyError"]


class PrivacyError(ShopstreamError):
    """A privacy request (an erasure, a retention clean-up) could not be carried out."""


class ErasureError(PrivacyError):
    """An erasure could not be carried out (the message says which part failed)."""
