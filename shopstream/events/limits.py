"""Input limits: what one raw event may contain before it costs the pipeline anything.

Every door (files, Kafka, ``POST /events``, the Snowplow collector) decodes through
:class:`~shopstream.events.decode.EventDecoder`, which applies one :class:`InputLimits`.
A refusal is a :class:`~shopstream.errors.DecodeError` with stage ``limit`` and a message
that names the limit (and the ``shopstream run`` option that raises it), so it ends up in
``dead-letter`` with its reason instead of crashing a run or poisoning the watermark.

Checks before decoding (on the raw bytes, at C speed on ordinary lines):

- size: a line or event body longer than ``max_line_bytes``;
- nesting: JSON nested deeper than ``max_depth`` (even inside an ignored field), which
  would otherwise exhaust the parser's recursion;
- encoding: bytes that are not UTF-8, UTF-16/32 byte-order marks (a UTF-8 BOM is
  stripped, not refused).

Checks on the decoded event: ids not empty and at most ``max_id_length`` characters,
at most ``max_items`` purchase lines, ``price`` / ``quantity`` / ``cartTotal`` within their
ranges, and the event time at or after ``min_timestamp_ms`` and at most ``max_ahead_ms``
ahead of the ingest clock. (A replayed file, and each Kafka partition, is also checked
against its own progress: see :mod:`shopstream.events.time_window`.)

Examples
--------
>>> InputLimits().max_items
1000
>>> InputLimits(max_depth=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: InputLimits.max_depth must be an int >= 1, got 0
>>> nesting_depth(b'{"a":[[1]],"b":"[[[[["}')
3
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from shopstream.errors import ConfigError, DecodeError
from shopstream.events.model import Item, ShopperEvent

__all__ = ["BOM_STARTS", "LIMIT_STAGE", "YEAR_2000_MS", "InputLimits", "check_event",
           "check_raw", "format_ms", "nesting_depth"]

#: ``stage`` of a dead letter refused by a limit.
LIMIT_STAGE = "limit"

#: 2000-01-01T00:00:00Z: the earliest event time the commands and the API accept.
YEAR_2000_MS = 946_684_800_000
_HOUR_MS = 3_600_000
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_UTF8_BOM = b"\xef\xbb\xbf"
#: First bytes of a byte-order mark (a line starting with one is looked at closely).
BOM_STARTS = frozenset((b"\xef", b"\xff", b"\xfe", b"\x00"))
_OTHER_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32-BE"), (b"\xff\xfe\x00\x00", "UTF-32-LE"),
               (b"\xfe\xff", "UTF-16-BE"), (b"\xff\xfe", "UTF-16-LE"))


@dataclass(frozen=True)
class InputLimits:
    """The limits one raw event must respect; each refusal names the limit it broke.

    Parameters
    ----------
    max_line_bytes
        Bytes of one event (a file line, a Kafka message, one event of a request body);
        default 1 MiB.
    max_depth
        Deepest JSON nesting (objects and arrays, the event itself counting 1); default 16.
    max_items
        Lines in a purchase's ``items``; default 1,000.
    max_id_length
        Characters of any id (session, user, event, product, order); default 256.
    max_price
        Largest ``price`` of an event or of an item; default 1,000,000.
    max_quantity
        Largest ``quantity`` of an event or an item; default 100,000.
    max_cart_total
        Largest ``cartTotal``; default 100,000,000.
    min_timestamp_ms
        Earliest event time accepted (epoch ms). The default, 0 (1970-01-01), suits tests
        and synthetic streams; ``shopstream run`` and the API use :data:`YEAR_2000_MS`.
    max_ahead_ms
        How far an event time may be ahead of the ingest clock (and, for a replayed
        file or each Kafka partition, of the newest event accepted so far); default one
        hour. ``None`` turns both checks off.
    confirm_events
        Replays only: this many consecutive events all ahead of the window, and
        consistent with each other, are taken as a real gap in the data and accepted
        (default 16). See :mod:`shopstream.events.time_window`.
    """

    max_line_bytes: int = 1_048_576
    max_depth: int = 16
    max_items: int = 1_000
    max_id_length: int = 256
    max_price: float = 1_000_000.0
    max_quantity: int = 100_000
    max_cart_total: float = 100_000_000.0
    min_timestamp_ms: int = 0
    max_ahead_ms: int | None = _HOUR_MS
    confirm_events: int = 16

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name == "max_ahead_ms" and value is None:
                continue
            if spec.name in ("max_price", "max_cart_total"):
                ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                      and math.isfinite(value) and value > 0)
                if not ok:
                    msg = f"InputLimits.{spec.name} must be a finite number > 0, got {value!r}"
                    raise ConfigError(msg)
                continue
            lowest = 0 if spec.name in ("min_timestamp_ms", "max_ahead_ms") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                msg = f"InputLimits.{spec.name} must be an int >= {lowest}, got {value!r}"
                raise ConfigError(msg)


def format_ms(ms: int) -> str:
    """An epoch-millisecond time as ISO-8601 UTC, or the number when out of range.

    Examples
    --------
    >>> format_ms(946_684_800_000), format_ms(10**20)
    ('2000-01-01T00:00:00Z', '100000000000000000000')
    """
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return str(ms)


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of JSON objects and arrays in ``raw`` (brackets inside strings
    do not count). Linear, and never recursive."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse(message: str) -> DecodeError:
    return DecodeError(message, stage=LIMIT_STAGE)


def check_raw(raw: bytes, limits: InputLimits) -> bytes:
    """Refuse ``raw`` when a byte-level limit is broken; return it without a UTF-8 BOM."""
    if len(raw) > limits.max_line_bytes:
        msg = (f"event larger than max_line_bytes={limits.max_line_bytes} "
               "(--max-line-bytes)")
        raise _refuse(msg)
    if raw[:1] in BOM_STARTS:
        raw = _without_bom(raw)
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"not valid UTF-8 at byte {exc.start} ({exc.reason})"
            raise DecodeError(msg) from None
    # Counting brackets is C-speed; only a line with enough of them is scanned exactly.
    if raw.count(b"[") + raw.count(b"{") > limits.max_depth:
        depth = nesting_depth(raw)
        if depth > limits.max_depth:
            msg = (f"JSON nested {depth} deep, deeper than max_depth={limits.max_depth} "
                   "(--max-depth)")
            raise _refuse(msg)
    return raw


def _without_bom(raw: bytes) -> bytes:
    if raw[:3] == _UTF8_BOM:
        return raw[3:]
    for mark, name in _OTHER_BOMS:
        if raw.startswith(mark):
            msg = f"starts with a {name} byte-order mark: events must be UTF-8 JSON"
            raise DecodeError(msg)
    return raw


def check_event(event: ShopperEvent, limits: InputLimits, now_ms: int | None) -> None:
    """Refuse a decoded ``event`` that breaks a limit; ``now_ms`` is the ingest clock
    (``None``: no clock check)."""
    longest = limits.max_id_length
    product, order = event.product_id, event.order_id
    # One test for the usual case; the slow path finds what is wrong and says it.
    session, user = event.session_id, event.user_id
    if (len(session) > longest or len(user) > longest or len(event.event_id) > longest
            or session.isspace() or user.isspace()
            or (product is not None and (not 0 < len(product) <= longest or product.isspace()))
            or (order is not None and (not 0 < len(order) <= longest or order.isspace()))):
        _check_ids(event, limits)
    price, quantity, total = event.price, event.quantity, event.cart_total
    if ((price is not None and not price <= limits.max_price)
            or (quantity is not None and quantity > limits.max_quantity)):
        _check_numbers(price, quantity, "", limits)
    if total is not None and not total <= limits.max_cart_total:
        msg = (f"cartTotal {total!r} is above max_cart_total={limits.max_cart_total:g} "
               "(--max-cart-total)")
        raise _refuse(msg)
    items = event.items
    if items:
        _check_items(items, limits)
    ts = event.timestamp_ms
    if ts < limits.min_timestamp_ms:
        msg = (f"timestamp {ts} ({format_ms(ts)}) is before min_timestamp_ms "
               f"({format_ms(limits.min_timestamp_ms)}; --min-time)")
        raise _refuse(msg)
    ahead = limits.max_ahead_ms
    if now_ms is not None and ahead is not None and ts > now_ms + ahead:
        msg = (f"timestamp {ts} ({format_ms(ts)}) is {_hours(ts - now_ms)} ahead of the "
               f"ingest clock ({format_ms(now_ms)}); max_ahead_ms={ahead} (--max-ahead-hours)")
        raise _refuse(msg)


def _check_items(items: tuple[Item, ...], limits: InputLimits) -> None:
    if len(items) > limits.max_items:
        msg = (f"PURCHASE with {len(items)} items, more than max_items="
               f"{limits.max_items} (--max-items)")
        raise _refuse(msg)
    for index, item in enumerate(items):
        _check_id(item.product_id, f"items[{index}].productId", limits)
        _check_numbers(item.price, item.quantity, f"items[{index}].", limits)


def _hours(ms: int) -> str:
    return f"{ms / _HOUR_MS:.1f} h" if ms < 10**15 else f"{ms} ms"


def _check_id(value: str | None, name: str, limits: InputLimits) -> None:
    if value is None:
        return
    if not value or value.isspace():
        msg = f"{name} is empty"
        raise DecodeError(msg, stage="validate")
    if len(value) > limits.max_id_length:
        msg = (f"{name} of {len(value)} characters is longer than max_id_length="
               f"{limits.max_id_length} (--max-id-length)")
        raise _refuse(msg)


def _check_ids(event: ShopperEvent, limits: InputLimits) -> None:
    _check_id(event.session_id, "sessionId", limits)
    _check_id(event.user_id, "userId", limits)
    if event.event_id:
        _check_id(event.event_id, "eventId", limits)
    _check_id(event.product_id, "productId", limits)
    _check_id(event.order_id, "orderId", limits)


def _check_numbers(price: float | None, quantity: int | None, where: str,
                   limits: InputLimits) -> None:
    if price is not None and not price <= limits.max_price:
        msg = f"{where}price {price!r} is above max_price={limits.max_price:g} (--max-price)"
        raise _refuse(msg)
    if quantity is not None and quantity > limits.max_quantity:
        msg = (f"{where}quantity {quantity!r} is above max_quantity={limits.max_quantity} "
               "(--max-quantity)")
        raise _refuse(msg)
