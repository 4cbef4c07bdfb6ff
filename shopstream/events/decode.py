"""Strict, fast decoding of wire events.

Canonical lines (string ids, epoch-millisecond timestamps) take one msgspec pass straight
into :class:`ShopperEvent`; anything else is retried through the permissive
:class:`WireEvent`, whose error, if it still fails, is the one reported.

Examples
--------
>>> dec = EventDecoder()
>>> event = dec.decode(b'{"eventType":"VIEW_PRODUCT","sessionId":"s1",'
...                    b'"timestamp":1700000000000,"productId":"p"}')
>>> event.user_id, event.event_id
('s1', 'ev-00efce57704adf181b52')
>>> dec.decode(b'{"eventType":"PAGE_VIEW","sessionId":7,'
...            b'"timestamp":"2023-11-14T22:13:20Z"}').timestamp_ms
1700000000000
>>> dec.decode(b'{"eventType":"TELEPORT","sessionId":"s1","timestamp":5}')
Traceback (most recent call last):
...
shopstream.errors.DecodeError: Invalid enum value 'TELEPORT' - at `$.eventType`
>>> dec.decode(b'{"eventType":"ADD_TO_CART","sessionId":"s1","timestamp":5}')
Traceback (most recent call last):
...
shopstream.errors.DecodeError: ADD_TO_CART needs a productId

Every failure, of any kind, is a :class:`~shopstream.errors.DecodeError` (deep nesting,
duplicate keys, limits of :class:`~shopstream.events.limits.InputLimits`):

>>> deep = b'{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":5,"x":' + b'[' * 999
>>> dec.decode(deep)
Traceback (most recent call last):
...
shopstream.errors.DecodeError: JSON nested 1000 deep, deeper than max_depth=16 (--max-depth)
>>> dec.decode(b'{"eventType":"PURCHASE","sessionId":"s","timestamp":5,"eventType":"PAGE_VIEW"}')
Traceback (most recent call last):
...
shopstream.errors.DecodeError: duplicate key 'eventType'
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec.structs import force_setattr

from shopstream.errors import DecodeError
from shopstream.events.limits import InputLimits, check_event, check_raw
from shopstream.events.model import EventType, ShopperEvent, WireEvent

if TYPE_CHECKING:
    from shopstream.events.pseudonym import Pseudonymiser

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


_astuple = msgspec.structs.astuple


def _keys_set(event: ShopperEvent) -> int:
    """A lower bound of the keys the line of ``event`` had (items count five each, six
    with a brand)."""
    values = _astuple(event)
    n = len(values) - values.count(None) - (event.event_id == "")
    if event.user_id == event.session_id:
        n -= 1  # filled in from the session when the line had none
    items = event.items
    if not items:
        return n
    return n + 5 * len(items) + sum(i.brand is not None for i in items)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            msg = f"duplicate key {key!r}"
            raise DecodeError(msg)
        seen[key] = value
    return seen


def _check_duplicate_keys(raw: bytes) -> None:
    """Refuse an object with a repeated key (JSON parsers keep the last one silently, so
    ``eventType`` could be replaced behind the first one's back)."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        if isinstance(exc, DecodeError):
            raise
        # Not JSON for Python either; msgspec has already accepted it, so let it be.


class EventDecoder:
    """Decodes one JSON line into a :class:`ShopperEvent` or raises :class:`DecodeError`.

    ``limits`` are checked on every event (default :class:`InputLimits`); ``clock`` is the
    ingest clock in epoch seconds for the "not too far ahead" check (``None``: no clock).
    No other exception escapes :meth:`decode`.

    ``pseudonymiser`` replaces each event's user id by its keyed pseudonym
    (:mod:`shopstream.events.pseudonym`); by default it comes from the
    ``SHOPSTREAM_PSEUDONYM_KEY`` environment variable (none when unset), so every door
    that decodes events pseudonymises once a key is configured; ``None`` turns it off.
    """

    def __init__(self, limits: InputLimits | None = None,
                 clock: Callable[[], float] | None = time.time,
                 pseudonymiser: Pseudonymiser | str | None = "environment") -> None:
        self.limits = limits or InputLimits()
        self.clock = clock
        if isinstance(pseudonymiser, str):
            from shopstream.events.pseudonym import from_environment

            pseudonymiser = from_environment()
        self.pseudonymiser = pseudonymiser
        self._strict = msgspec.json.Decoder(ShopperEvent)
        self._loose = msgspec.json.Decoder(WireEvent)

    def decode(self, raw: bytes) -> ShopperEvent:
        """Decode ``raw``; the message of a :class:`DecodeError` says what to fix."""
        limits = self.limits
        try:
            # One test on the usual line; check_raw says what is wrong (or strips a BOM).
            if (len(raw) > limits.max_line_bytes
                    or not raw.isascii()
                    or raw.count(b"[") + raw.count(b"{") > limits.max_depth):
                raw = check_raw(raw, limits)
            try:
                event = self._strict.decode(raw)
            except msgspec.DecodeError:
                event = self._decode_loose(raw)
            # A line with no more keys than the event has fields set repeats none. (Unknown
            # fields, nulls or '":' inside strings send it to the exact check.)
            if raw.count(b'":') > _keys_set(event):
                _check_duplicate_keys(raw)
            if event.product_id is None and event.event_type in NEEDS_PRODUCT:
                msg = f"{event.event_type.value} needs a productId"
                raise DecodeError(msg, stage="validate")
            clock = self.clock
            check_event(event, limits, None if clock is None else int(clock() * 1000))
            if not event.event_id:
                force_setattr(event, "event_id", derive_event_id(raw))
            if self.pseudonymiser is not None:  # the event is ours: no copy needed
                force_setattr(event, "user_id", self.pseudonymiser.pseudonym(event.user_id))
        except DecodeError:
            raise
        except RecursionError:
            msg = "JSON nested too deep to decode"
            raise DecodeError(msg, stage="limit") from None
        except Exception as exc:  # any failure is a dead letter, not a crash
            msg = f"undecodable event ({type(exc).__name__}: {exc})"
            raise DecodeError(msg) from None
        return event

    def redact(self, raw: bytes) -> bytes:
        """What a dead letter of ``raw`` may keep: ``raw`` itself, or with a pseudonymiser
        the line with its user id pseudonymised (see
        :meth:`~shopstream.events.pseudonym.Pseudonymiser.redact`)."""
        return raw if self.pseudonymiser is None else self.pseudonymiser.redact(raw)

    def _decode_loose(self, raw: bytes) -> ShopperEvent:
        try:
            return self._loose.decode(raw).to_event()
        except msgspec.DecodeError as exc:
            raise DecodeError(str(exc)) from None
        except (ValueError, OverflowError) as exc:
            raise DecodeError(str(exc)) from None
