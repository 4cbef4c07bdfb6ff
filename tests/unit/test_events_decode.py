from __future__ import annotations

import msgspec
import pytest

from shopstream.errors import DecodeError
from shopstream.events import EventDecoder, EventType, derive_event_id

DEC = EventDecoder()
GOOD = (b'{"eventId":"e1","eventType":"ADD_TO_CART","timestamp":1700000000000,'
        b'"sessionId":"s1","userId":"u1","productId":"p1","price":9.99,"quantity":2}')


def test_canonical_event_round_trips() -> None:
    event = DEC.decode(GOOD)
    assert event.event_type is EventType.ADD_TO_CART
    assert (event.event_id, event.session_id, event.user_id) == ("e1", "s1", "u1")
    assert (event.price, event.quantity, event.timestamp_ms) == (9.99, 2, 1700000000000)
    assert msgspec.json.decode(msgspec.json.encode(event)) == msgspec.json.decode(GOOD)


def test_iso_timestamps_and_numeric_ids_are_normalised() -> None:
    event = DEC.decode(b'{"eventType":"PURCHASE","timestamp":"2023-11-14T22:13:20Z",'
                       b'"sessionId":12,"userId":7,"orderId":99,'
                       b'"items":[{"productId":5,"price":1.5,"quantity":3}]}')
    assert event.timestamp_ms == 1_700_000_000_000
    assert (event.session_id, event.user_id, event.order_id) == ("12", "7", "99")
    assert event.items is not None and event.items[0].product_id == "5"


def test_missing_user_falls_back_to_session_and_missing_id_is_deterministic() -> None:
    raw = b'{"eventType":"PAGE_VIEW","timestamp":1700000000005,"sessionId":"s9"}'
    first, second = DEC.decode(raw), DEC.decode(raw)
    assert first.user_id == "s9"
    assert first.event_id == second.event_id == derive_event_id(raw)
    other = DEC.decode(b'{"eventType":"PAGE_VIEW","timestamp":1700000000006,"sessionId":"s9"}')
    assert other.event_id != first.event_id


@pytest.mark.parametrize(("raw", "stage", "reason"), [
    (b"not json at all", "decode", "malformed"),
    (b'{"eventType":"VIEW_PRODUCT","sessionId":"s"', "decode", "truncated"),
    (b'[1,2]', "decode", "Expected `object`"),
    (b'{"sessionId":"s","timestamp":1}', "decode", "missing required field `eventType`"),
    (b'{"eventType":"PAGE_VIEW","timestamp":1}', "decode", "missing required field `sessionId`"),
    (b'{"eventType":"PAGE_VIEW","sessionId":"s"}', "decode", "missing required field `timestamp`"),
    (b'{"eventType":"TELEPORT","sessionId":"s","timestamp":1}', "decode", "Invalid enum value"),
    (b'{"eventType":"VIEW_PRODUCT","sessionId":"s","timestamp":1,"productId":"p","price":-1}',
     "decode", "`$.price`"),
    (b'{"eventType":"ADD_TO_CART","sessionId":"s","timestamp":1,"productId":"p",'
     b'"quantity":"two"}', "decode", "`$.quantity`"),
    (b'{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":"tuesday"}', "decode",
     "neither epoch milliseconds nor ISO-8601"),
    (b'{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":-5}', "decode", "timestamp"),
    (b'{"eventType":"PAGE_VIEW","sessionId":"","timestamp":1}', "decode", "sessionId"),
    (b'{"eventType":"ADD_TO_CART","sessionId":"s","timestamp":1}', "validate", "productId"),
])
def test_bad_lines_are_rejected_with_a_reason(raw: bytes, stage: str, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        DEC.decode(raw)
    assert info.value.stage == stage
    assert reason in str(info.value)
