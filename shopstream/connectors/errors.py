"""Errors of the connectors: the write-ahead log, Kafka and the Snowplow mapping.

Examples
--------
>>> issubclass(WalError, ConnectorError), issubclass(SnowplowRejection, DecodeError)
(True, True)
>>> SnowplowRejection("no event type").stage
'snowplow'
"""

from __future__ import annotations

from shopstream.errors import DecodeError, ShopstreamError

__all__ = ["ConnectorError", "KafkaError", "SnowplowRejection", "WalError"]


class ConnectorError(ShopstreamError):
    """A connector could not reach, read or write the system it connects to (inputs that
    cannot be opened or read raise :class:`~shopstream.errors.SourceError`)."""


class WalError(ConnectorError):
    """The write-ahead log cannot be written or read (disk full, corruption)."""


class KafkaError(ConnectorError):
    """The broker could not be reached, or refused a request."""


class SnowplowRejection(DecodeError):
    """A Snowplow payload that cannot become a canonical event; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, stage="snowplow")
