"""The one exception hierarchy of shopstream.

Every error the package raises on purpose derives from :class:`ShopstreamError`, so a
caller (the CLI, the API) can tell our errors from bugs and show them without a traceback.
"""

from __future__ import annotations


class ShopstreamError(Exception):
    """Base class of every error shopstream raises on purpose."""


class ConfigError(ShopstreamError, ValueError):
    """A configuration value is out of range or of the wrong kind."""


class DecodeError(ShopstreamError, ValueError):
    """An input record could not be turned into a canonical event.

    ``stage`` says where it failed: ``decode`` (not JSON, wrong types, missing fields) or
    ``validate`` (well-formed but not a usable event).
    """

    def __init__(self, message: str, stage: str = "decode") -> None:
        super().__init__(message)
        self.stage = stage


class CheckpointError(ShopstreamError):
    """A checkpoint could not be written, read or applied."""


class SourceError(ShopstreamError):
    """An input could not be opened or read."""


class DatasetError(ShopstreamError):
    """A real dataset could not be fetched or converted."""
