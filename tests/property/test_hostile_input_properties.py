"""Properties of the decoding door under hostile input (issue 18): whatever the bytes,
:meth:`EventDecoder.decode` returns an event within the limits or raises ``DecodeError``,
and a dead letter gives back the exact bytes."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.events.records import DeadLetter

LIMITS = InputLimits(min_timestamp_ms=YEAR_2000_MS, max_items=20, max_depth=8)
DECODER = EventDecoder(LIMITS, clock=lambda: 1_800_000_000.0)
VALID = (b'{"eventType":"PURCHASE","sessionId":"s1","timestamp":1700000000000,'
         b'"userId":"u","cartTotal":12.5,"items":[{"productId":"p1","price":2.5,"quantity":5}]}')

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=30)


def _decodes_or_refuses(raw: bytes) -> None:
    try:
        event = DECODER.decode(raw)
    except DecodeError as exc:
        assert str(exc)
        assert exc.stage in ("decode", "validate", "limit")
        return
    assert LIMITS.min_timestamp_ms <= event.timestamp_ms
    assert event.session_id.strip() and len(event.session_id) <= LIMITS.max_id_length
    assert event.items is None or len(event.items) <= LIMITS.max_items
    assert event.price is None or 0 <= event.price <= LIMITS.max_price


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    _decodes_or_refuses(raw)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=12),
       st.integers(0, 12))
def test_a_valid_line_mutated_anywhere_decodes_or_is_refused(at: int, insert: bytes,
                                                             cut: int) -> None:
    _decodes_or_refuses(VALID[:at] + insert + VALID[at + cut:])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["eventType", "sessionId", "timestamp", "productId", "price",
                        "quantity", "items", "cartTotal", "userId", "x"]), json_values)
def test_any_json_value_in_any_field_decodes_or_is_refused(field: str, value: object) -> None:
    try:
        text = json.dumps(value)
    except ValueError:
        return
    raw = VALID[:-1] + b',"' + field.encode() + b'":' + text.encode() + b"}"
    _decodes_or_refuses(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_a_dead_letter_keeps_the_exact_bytes(raw: bytes) -> None:
    letter = DeadLetter.of_bytes("decode", "why", raw, "in", 1)
    kept = (base64.b64decode(letter.raw) if letter.raw_encoding == "base64"
            else letter.raw.encode())
    assert kept == raw
