"""Output records that operators and runners emit, and the envelope that carries them."""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import msgspec

from shopstream.events.model import ShopperEvent

__all__ = ["BasketCompletion", "BasketLine", "DeadLetter", "LateEvent", "Output",
           "ShopperFeatures"]


class Output(NamedTuple):
    """One record on its way to the stream ``stream``; ``key`` partitions it (Kafka key)."""

    stream: str
    key: str
    record: Any


class BasketLine(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One product in a basket."""

    product_id: str
    product_name: str | None
    category: str | None
    price: float
    quantity: int


class BasketCompletion(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A basket that ended: bought (``COMPLETED``) or left behind (``ABANDONED``).

    ``event_id``, ``device`` and ``currency`` come from the ``PURCHASE`` event (``None``
    for abandoned baskets); fraud detection uses them as evidence.
    """

    session_id: str
    user_id: str
    status: str
    items: tuple[BasketLine, ...]
    total_value: float
    completion_time: int
    order_id: str | None = None
    viewed_products: tuple[str, ...] = ()
    event_id: str | None = None
    device: str | None = None
    currency: str | None = None


class DeadLetter(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """An input that could not be used, with why and where it came from.

    ``stage`` is where it failed (``decode``, ``validate``, ``limit``, ``operator:<name>``),
    ``offset`` the byte offset just after the line in ``source`` (-1 when it has none).
    ``raw`` is the original input: its text, or, when it is not valid UTF-8, its bytes in
    base64 with ``raw_encoding`` (``rawEncoding``) set to ``"base64"``.

    Examples
    --------
    >>> DeadLetter.of_bytes("decode", "bad", b"caf\\xe9", "in.jsonl", 5).raw
    'Y2Fm6Q=='
    >>> msgspec.json.encode(DeadLetter.of_bytes("decode", "bad", b"ok", "in", 3))
    b'{"stage":"decode","reason":"bad","raw":"ok","source":"in","offset":3}'
    """

    stage: str
    reason: str
    raw: str
    source: str
    offset: int
    raw_encoding: str | None = None

    @classmethod
    def of_bytes(cls, stage: str, reason: str, raw: bytes, source: str,
                 offset: int) -> DeadLetter:
        """A dead letter that keeps ``raw`` exactly (base64 when it is not UTF-8)."""
        try:
            return cls(stage, reason, raw.decode("utf-8"), source, offset)
        except UnicodeDecodeError:
            return cls(stage, reason, base64.b64encode(raw).decode("ascii"), source, offset,
                       "base64")


class LateEvent(msgspec.Struct, frozen=True, rename="camel"):
    """An event whose time was already behind the watermark when it arrived."""

    event: ShopperEvent
    watermark: int
    lateness_ms: int


class ShopperFeatures(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Live feature values of one shopper or session, as of event time ``computed_at``.

    ``entity`` is ``user`` or ``session``; ``features`` maps catalog names (window suffix
    included, e.g. ``product_view_count_5min``) to values (numbers, strings, lists, or
    ``None`` when a value is undefined, such as an average of nothing).
    """

    entity: str
    entity_id: str
    computed_at: int
    features: dict[str, Any]
