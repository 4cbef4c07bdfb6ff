"""Wire model of shopper events and output records; decoding and validation."""

from __future__ import annotations

from shopstream.events.decode import EventDecoder, derive_event_id
from shopstream.events.model import EventType, Item, ShopperEvent, parse_timestamp_ms
from shopstream.events.records import BasketCompletion, BasketLine, DeadLetter, LateEvent, Output

__all__ = [
    "BasketCompletion",
    "BasketLine",
    "DeadLetter",
    "EventDecoder",
    "EventType",
    "Item",
    "LateEvent",
    "Output",
    "ShopperEvent",
    "derive_event_id",
    "parse_timestamp_ms",
]
