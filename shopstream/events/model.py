"""The canonical shopper event, exactly as it travels on the wire (camelCase JSON).

Examples
--------
>>> import msgspec
>>> ev = ShopperEvent(event_type=EventType.VIEW_PRODUCT, timestamp_ms=1_000, session_id="s1",
...                   event_id="e1", user_id="u1", product_id="p1", price=9.5)
>>> msgspec.json.encode(ev).decode()
'{"eventType":"VIEW_PRODUCT","timestamp":1000,"sessionId":"s1","eventId":"e1","userId":"u1","productId":"p1","price":9.5}'
>>> ShopperEvent(event_type=EventType.PAGE_VIEW, timestamp_ms=5, session_id="s9").user_id
's9'
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from msgspec.structs import force_setattr

__all__ = ["CATALOG_KINDS", "EventType", "Item", "ShopperEvent", "WireEvent", "WireItem",
           "parse_timestamp_ms"]

NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
PosInt = Annotated[int, msgspec.Meta(ge=1)]
IdText = Annotated[str, msgspec.Meta(min_length=1)]
IdNumber = Annotated[int, msgspec.Meta(ge=0)]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


class EventType(enum.StrEnum):
    """What a shopper did."""

    VIEW_PRODUCT = "VIEW_PRODUCT"
    ADD_TO_CART = "ADD_TO_CART"
    REMOVE_FROM_CART = "REMOVE_FROM_CART"
    PURCHASE = "PURCHASE"
    PAGE_VIEW = "PAGE_VIEW"
    SEARCH = "SEARCH"
    ADD_TO_WISHLIST = "ADD_TO_WISHLIST"
    BROWSE_CATEGORY = "BROWSE_CATEGORY"
    #: Not a shopper action: the shop's catalog changed (``productId``, ``productName``,
    #: ``category``, ``price``, and ``quantity`` = units in stock, 0 when the product is
    #: inactive, deleted or sold out). Routed to ``catalog-changes``, not to ``events``.
    PRODUCT_CHANGE = "PRODUCT_CHANGE"
    #: Not a shopper action: a customer account changed (``userId``, ``country``,
    #: ``region``, ``device``, ``platform``). Routed to ``catalog-changes``.
    CUSTOMER_CHANGE = "CUSTOMER_CHANGE"


#: Event types that describe the shop rather than a shopper's action: the engine sends them
#: to the ``catalog-changes`` stream instead of the session and user operators.
CATALOG_KINDS = frozenset({EventType.PRODUCT_CHANGE, EventType.CUSTOMER_CHANGE})


def parse_timestamp_ms(value: int | float | str) -> int:
    """Turn epoch milliseconds or an ISO-8601 string into epoch milliseconds.

    A string without a zone is read as UTC.

    Examples
    --------
    >>> parse_timestamp_ms(1700000000123)
    1700000000123
    >>> parse_timestamp_ms("2023-11-14T22:13:20.123Z")
    1700000000123
    >>> parse_timestamp_ms("2023-11-14T23:13:20.123+01:00")
    1700000000123
    >>> parse_timestamp_ms("yesterday")
    Traceback (most recent call last):
    ...
    ValueError: timestamp 'yesterday' is neither epoch milliseconds nor ISO-8601
    """
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            msg = f"timestamp string of {len(text)} characters is too long"
            raise ValueError(msg)
        if text.isascii() and text.isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            msg = f"timestamp {value!r} is neither epoch milliseconds nor ISO-8601"
            raise ValueError(msg) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = (parsed - _EPOCH) // _ONE_MS
    elif isinstance(value, float) and not (math.isfinite(value) and value >= 0):
        msg = f"timestamp {value!r} is not a finite number >= 0"
        raise ValueError(msg)
    else:
        ms = int(value)
    if ms < 0:
        msg = f"timestamp {value!r} is before 1970-01-01"
        raise ValueError(msg)
    return ms


def _as_id(value: str | int | None) -> str | None:
    return str(value) if isinstance(value, int) else value


# gc=False on the records below: they hold only scalars and tuples of such records, so
# they can never be part of a reference cycle, and untracked objects make the garbage
# collector's passes over millions of live events and state entries much cheaper.
class Item(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True, gc=False):
    """One line of a purchase's ``items`` (``brand``: the product's brand, where known)."""

    product_id: IdText
    product_name: str | None = None
    category: str | None = None
    price: NonNegFloat = 0.0
    quantity: PosInt = 1
    brand: str | None = None


class ShopperEvent(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True, gc=False):
    """One shopper action; ``timestamp_ms`` is ``timestamp`` on the wire.

    Inside the pipeline every id is a string and the timestamp is epoch milliseconds;
    :class:`WireEvent` accepts the looser forms found in the wild and normalises them.
    A missing ``userId`` falls back to the session id.
    """

    event_type: EventType
    timestamp_ms: NonNegInt = msgspec.field(name="timestamp")
    session_id: IdText
    event_id: str = ""
    user_id: str = ""
    product_id: str | None = None
    product_name: str | None = None
    category: str | None = None
    price: NonNegFloat | None = None
    quantity: NonNegInt | None = None
    currency: str | None = None
    order_id: str | None = None
    cart_total: NonNegFloat | None = None
    items: tuple[Item, ...] | None = None
    search_query: str | None = None
    page_url: str | None = None
    device: str | None = None
    platform: str | None = None
    country: str | None = None
    region: str | None = None
    campaign: str | None = None
    #: The product's brand, where the source knows it (last, so that positional
    #: construction in field order stays as it was).
    brand: str | None = None

    def __post_init__(self) -> None:
        if not self.user_id:
            force_setattr(self, "user_id", self.session_id)


class WireItem(msgspec.Struct, frozen=True, rename="camel"):
    """A permissive ``items`` line: the product id may be a number."""

    product_id: IdText | IdNumber
    product_name: str | None = None
    category: str | None = None
    price: NonNegFloat = 0.0
    quantity: PosInt = 1
    brand: str | None = None

    def to_item(self) -> Item:
        """The canonical item."""
        return Item(str(self.product_id), self.product_name, self.category, self.price,
                    self.quantity, self.brand)


class WireEvent(msgspec.Struct, frozen=True, rename="camel"):
    """The permissive shape: ids may be numbers, the timestamp an ISO-8601 string."""

    event_type: EventType
    timestamp: NonNegInt | float | str
    session_id: IdText | IdNumber
    event_id: str | int | None = None
    user_id: str | int | None = None
    product_id: str | int | None = None
    product_name: str | None = None
    category: str | None = None
    price: NonNegFloat | None = None
    quantity: NonNegInt | None = None
    currency: str | None = None
    order_id: str | int | None = None
    cart_total: NonNegFloat | None = None
    items: tuple[WireItem, ...] | None = None
    search_query: str | None = None
    page_url: str | None = None
    device: str | None = None
    platform: str | None = None
    country: str | None = None
    region: str | None = None
    campaign: str | None = None
    brand: str | None = None

    def to_event(self) -> ShopperEvent:
        """Normalise ids to strings and the timestamp to epoch milliseconds."""
        return ShopperEvent(
            event_type=self.event_type,
            timestamp_ms=parse_timestamp_ms(self.timestamp),
            session_id=str(self.session_id),
            event_id=_as_id(self.event_id) or "",
            user_id=_as_id(self.user_id) or "",
            product_id=_as_id(self.product_id),
            product_name=self.product_name,
            category=self.category,
            price=self.price,
            quantity=self.quantity,
            currency=self.currency,
            order_id=_as_id(self.order_id),
            cart_total=self.cart_total,
            items=None if self.items is None else tuple(i.to_item() for i in self.items),
            search_query=self.search_query,
            page_url=self.page_url,
            device=self.device,
            platform=self.platform,
            country=self.country,
            region=self.region,
            campaign=self.campaign,
            brand=self.brand,
        )
