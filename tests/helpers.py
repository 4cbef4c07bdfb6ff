"""Small builders shared by tests (not a test module)."""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.events import EventType, ShopperEvent

_ENC = msgspec.json.Encoder()


def ev(kind: str, ts: int, session: str = "s1", **fields: Any) -> ShopperEvent:
    """A canonical event with an id derived from its position, for readable tests."""
    fields.setdefault("event_id", f"{session}-{ts}-{kind}")
    return ShopperEvent(EventType(kind), ts, session, **fields)


def jsonl(events: list[ShopperEvent]) -> bytes:
    return b"".join(_ENC.encode(e) + b"\n" for e in events)
