"""Strict, fast decoding of wire events.

Canonical lines (string ids, epoch-millisecond timestamps) take one msgspec pass straight
into :class:`ShopperEvent`; anything else is retried through the permissive
:class:`WireEvent`, whose error, if it still fails, is the one reported.

Examples
--------
>>> dec = EventDecoder()
>>> event = dec.decode(b'{"eventType":"VIEW_PRODUCT","sessionId":"s1","timestamp":5,'
...                    b'"productId":"p"}')
>>> event.user_id, event.event_id
('s1', 'ev-e3af5ca91f5ac18fbf4a')
>>> dec.decode(b'{"eventType":"PAGE_VIEW","sessionId":7,'
...            b'"timestamp":"1970-01-01T00:00:01Z"}').timestamp_ms
1000
>>> dec.decode(b'{"eventType":"TELEPORT","sessionId":"s1","timestamp":5}')
Traceback (most recent call last):
...
shopstream.errors.DecodeError: Invalid enum value 'TELEPORT' - at `$.eventType`
>>> dec.decode(b'{"eventType":"ADD_TO_CART","sessionId":"s1","timestamp":5}')
Traceback (most recent call last):
...
shopstream.errors.DecodeError: ADD_TO_CART needs a productId
"""

from __future__ import annotations

import hashlib

import msgspec
from msgspec.structs import force_setattr

from shopstream.errors import DecodeError
from shopstream.events.model import EventType, ShopperEvent, WireEvent

__all__ = ["NEEDS_PRODUCT", "EventDecoder", "derive_event_id"]

#: Event types that mean nothing without the product they are about.
NEEDS_PRODUCT = frozenset({EventType.VIEW_PRODUCT, EventType.ADD_TO_CART,
                           EventType.REMOVE_FROM_CART, EventType.ADD_TO_WISHLIST,
                           EventType.PRODUCT_CHANGE})


def derive_event_id(raw: bytes) -> str:
    """A deterministic id for an event that came without one: same line, same id.

    Examples
    --------
    >>> derive_event_id(b'{"a":1}') == derive_event_id(b'{"a":1}  ')
    True
    """
    return "ev-" + hashlib.blake2b(raw.strip(), digest_size=10).hexdigest()


class EventDecoder:
    """Decodes one JSON line into a :class:`ShopperEvent` or raises :class:`DecodeError`."""

    def __init__(self) -> None:
        self._strict = msgspec.json.Decoder(ShopperEvent)
        self._loose = msgspec.json.Decoder(WireEvent)

    def decode(self, raw: bytes) -> ShopperEvent:
        """Decode ``raw``; the message of a :class:`DecodeError` says what to fix."""
        try:
            event = self._strict.decode(raw)
        except msgspec.DecodeError:
            event = self._decode_loose(raw)
        if event.product_id is None and event.event_type in NEEDS_PRODUCT:
            msg = f"{event.event_type.value} needs a productId"
            raise DecodeError(msg, stage="validate")
        if not event.event_id:
            force_setattr(event, "event_id", derive_event_id(raw))
        return event

    def _decode_loose(self, raw: bytes) -> ShopperEvent:
        try:
            return self._loose.decode(raw).to_event()
        except msgspec.DecodeError as exc:
            raise DecodeError(str(exc)) from None
        except ValueError as exc:
            raise DecodeError(str(exc)) from None
