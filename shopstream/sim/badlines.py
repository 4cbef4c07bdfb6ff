"""Malformed input lines, one kind per thing that goes wrong in real event streams.

Each bad line is a damaged copy of a real event, so it looks like what a broken client
or a cut-off write would produce. Every kind must be rejected by
:class:`~shopstream.events.decode.EventDecoder`; the lines stay valid UTF-8 so that
text-mode readers see them as lines, not as a broken file.

Examples
--------
>>> import random
>>> from shopstream.events.decode import EventDecoder
>>> from shopstream.events.model import EventType, ShopperEvent
>>> from shopstream.errors import DecodeError
>>> ev = ShopperEvent(EventType.ADD_TO_CART, 1_700_000_000_000, "s1", "e1", "u1", "P00001",
...                   price=9.99, quantity=1)
>>> line = bad_line(BadKind.NEGATIVE_PRICE, ev, "b-1", random.Random(0))
>>> b'"price":-9.99' in line
True
>>> try:
...     EventDecoder().decode(line)
... except DecodeError:
...     print("rejected")
rejected
"""

from __future__ import annotations

import enum
import random
from typing import Any

import msgspec

from shopstream.events.model import ShopperEvent

__all__ = ["BadKind", "bad_line"]


class BadKind(enum.StrEnum):
    """The ways a line can be malformed."""

    NOT_JSON = "not-json"
    TRUNCATED = "truncated"
    MISSING_EVENT_TYPE = "missing-event-type"
    MISSING_SESSION_ID = "missing-session-id"
    MISSING_TIMESTAMP = "missing-timestamp"
    UNKNOWN_EVENT_TYPE = "unknown-event-type"
    NEGATIVE_PRICE = "negative-price"
    NON_NUMERIC_QUANTITY = "non-numeric-quantity"
    UNPARSEABLE_TIMESTAMP = "unparseable-timestamp"


_NOT_JSON = (
    "GET /favicon.ico HTTP/1.1",
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "eventType=VIEW_PRODUCT&sessionId={sid}&productId={pid}",
    "ERROR 2024: connection reset by peer",
    "{sid},{pid},VIEW_PRODUCT",
)
_UNKNOWN_TYPES = ("CHECKOUT_STARTED", "APP_CRASH", "COUPON_APPLIED", "PRODUCT_VIEWED_V2",
                  "TELEPORT")
_BAD_QUANTITIES = ("two", "a few", "1 pc", "N/A", "")
_BAD_TIMESTAMPS = ("yesterday", "31/02/2024 25:61", "not-a-date", "2024-13-45T99:00:00Z",
                   "NaN")
_ENCODE = msgspec.json.Encoder().encode


def bad_line(kind: BadKind, event: ShopperEvent, line_id: str, rng: random.Random) -> bytes:
    """A line of kind ``kind`` made from ``event``, without the trailing newline.

    Parameters
    ----------
    kind
        What is wrong with the line.
    event
        The event it is a damaged copy of.
    line_id
        Replaces the event's id, so a bad line never shares an id with a good one.
    rng
        Chooses among the variants of each kind.

    Examples
    --------
    >>> from shopstream.events.model import EventType, ShopperEvent
    >>> ev = ShopperEvent(EventType.PAGE_VIEW, 5, "s1", "e1")
    >>> bad_line(BadKind.MISSING_SESSION_ID, ev, "b-1", random.Random(0))
    b'{"eventType":"PAGE_VIEW","timestamp":5,"eventId":"b-1","userId":"s1"}'
    """
    if kind is BadKind.NOT_JSON:
        text = rng.choice(_NOT_JSON)
        return text.format(sid=event.session_id, pid=event.product_id or "").encode()
    fields: dict[str, Any] = msgspec.to_builtins(event)
    fields["eventId"] = line_id
    if kind is BadKind.TRUNCATED:
        return _truncate(_ENCODE(fields), rng)
    if kind is BadKind.MISSING_EVENT_TYPE:
        del fields["eventType"]
    elif kind is BadKind.MISSING_SESSION_ID:
        del fields["sessionId"]
    elif kind is BadKind.MISSING_TIMESTAMP:
        del fields["timestamp"]
    elif kind is BadKind.UNKNOWN_EVENT_TYPE:
        fields["eventType"] = rng.choice(_UNKNOWN_TYPES)
    elif kind is BadKind.NEGATIVE_PRICE:
        fields["price"] = -abs(event.price or 19.99)
    elif kind is BadKind.NON_NUMERIC_QUANTITY:
        fields["quantity"] = rng.choice(_BAD_QUANTITIES)
    else:
        fields["timestamp"] = rng.choice(_BAD_TIMESTAMPS)
    return _ENCODE(fields)


def _truncate(full: bytes, rng: random.Random) -> bytes:
    # Any proper prefix of a JSON object lacks its closing brace, so it never parses;
    # cutting on a character boundary keeps the line valid UTF-8.
    cut = rng.randint(1, len(full) - 1)
    while cut > 1 and (full[cut] & 0xC0) == 0x80:
        cut -= 1
    return full[:cut]
