"""The Instacart orders sample as baskets, as timed sessions (one per order) and as long
sessions (one per shopper).

The sample (see :data:`shopstream.datasets.registry.DATASETS`) has one row per order
line: ``order_id, user_id, order_number, order_dow, order_hour_of_day,
days_since_prior_order, product_id, add_to_cart_order, reordered`` (plus an unnamed
index column). It has no absolute timestamps; :func:`session_events` derives them.

Examples
--------
>>> import io
>>> sample = io.StringIO(
...     ",order_id,user_id,order_number,order_dow,order_hour_of_day,"
...     "days_since_prior_order,product_id,add_to_cart_order,reordered\\n"
...     "0,10,1,1,2,8,,196,1.0,0.0\\n"
...     "1,10,1,1,2,8,,14084,2.0,0.0\\n"
...     "2,11,1,2,3,7,15.0,196,1.0,1.0\\n")
>>> lines = read_order_lines(sample)
>>> baskets(lines)
[('10', ('196', '14084')), ('11', ('196',))]
>>> for e in session_events(lines):
...     print(e.session_id, e.timestamp, e.item)
10 2017-01-03T08:00:00Z 196
10 2017-01-03T08:00:30Z 14084
11 2017-01-18T07:00:00Z 196
>>> [(e.session_id, e.item) for e in user_sessions(lines)]
[('1', '196'), ('1', '14084'), ('1', '196')]
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from shopstream.datasets.textfile import read_text_file
from shopstream.errors import DatasetError

__all__ = ["EPOCH", "ITEM_SPACING", "SESSION_HEADER", "OrderLine", "SessionEvent", "baskets",
           "load_order_lines", "read_order_lines", "session_events", "user_sessions",
           "write_sessions"]

SESSION_HEADER = ("session_id", "timestamp", "item", "user_id", "event_type")

EPOCH = datetime(2017, 1, 1, tzinfo=UTC)
"""Day 0 of every user's history; a Sunday, so ``order_dow`` 0 is read as Sunday."""
ITEM_SPACING = timedelta(seconds=30)
"""Time between two consecutive add-to-cart events of an order."""
MIN_ORDER_GAP = timedelta(minutes=30)
"""Least time between the last item of an order and the next order of the same user."""

_COLUMNS = ("order_id", "user_id", "order_number", "order_dow", "order_hour_of_day",
            "days_since_prior_order", "product_id", "add_to_cart_order")


@dataclass(frozen=True)
class OrderLine:
    """One product of one order."""

    order_id: str
    user_id: str
    order_number: int
    order_dow: int
    order_hour_of_day: int
    days_since_prior_order: int | None
    product_id: str
    add_to_cart_order: int


@dataclass(frozen=True)
class SessionEvent:
    """One row of the sessions CSV (``timestamp`` is ISO-8601 UTC)."""

    session_id: str
    timestamp: str
    item: str
    user_id: str
    event_type: str = "ADD_TO_CART"


def _number(value: str) -> int:
    # The sample writes integers as floats ("1.0").
    return int(float(value))


def read_order_lines(source: TextIO) -> list[OrderLine]:
    """Parse the sample CSV; a :class:`DatasetError` names the first bad line."""
    reader = csv.DictReader(source)
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        msg = f"instacart sample lacks columns {missing}; header is {reader.fieldnames!r}"
        raise DatasetError(msg)
    lines = []
    for row in reader:
        try:
            days = row["days_since_prior_order"]
            lines.append(OrderLine(
                order_id=row["order_id"], user_id=row["user_id"],
                order_number=_number(row["order_number"]), order_dow=_number(row["order_dow"]),
                order_hour_of_day=_number(row["order_hour_of_day"]),
                days_since_prior_order=_number(days) if days else None,
                product_id=row["product_id"],
                add_to_cart_order=_number(row["add_to_cart_order"])))
        except (TypeError, ValueError) as exc:
            msg = f"instacart sample line {reader.line_num}: {exc}"
            raise DatasetError(msg) from exc
    return lines


def load_order_lines(path: Path) -> list[OrderLine]:
    """:func:`read_order_lines` on a file."""
    return read_text_file(path, read_order_lines, "instacart sample", newline="")


def write_sessions(sink: TextIO, events: Iterable[SessionEvent]) -> int:
    """Write events as the sessions CSV (:data:`SESSION_HEADER`); return the row count.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_sessions(out, [SessionEvent("o1", "2017-01-01T08:00:00Z", "196", "u1")])
    1
    >>> out.getvalue()
    'session_id,timestamp,item,user_id,event_type\\no1,2017-01-01T08:00:00Z,196,u1,ADD_TO_CART\\n'
    """
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(SESSION_HEADER)
    rows = 0
    for event in events:
        writer.writerow((event.session_id, event.timestamp, event.item, event.user_id,
                         event.event_type))
        rows += 1
    return rows


def baskets(lines: Iterable[OrderLine]) -> list[tuple[str, tuple[str, ...]]]:
    """``(order_id, product ids in add-to-cart order)`` per order, orders as first seen."""
    orders: dict[str, list[OrderLine]] = {}
    for line in lines:
        orders.setdefault(line.order_id, []).append(line)
    return [(order_id, tuple(_dedupe(line.product_id for line in
                                     sorted(items, key=lambda x: x.add_to_cart_order))))
            for order_id, items in orders.items()]


def session_events(lines: Iterable[OrderLine]) -> list[SessionEvent]:
    """Every order as a session of add-to-cart events with derived timestamps.

    The derivation, per user, over the user's orders sorted by ``order_number``:

    - the first order falls on day ``order_dow`` after 2017-01-01 (a Sunday; Instacart's
      ``order_dow`` is commonly read with 0 as Sunday), so its weekday is right;
    - each later order falls ``days_since_prior_order`` days after the previous one
      (orders missing from the sample are skipped, so their gaps are lost; the source
      caps the gap at 30 days, so later weekdays need not match ``order_dow``);
    - the order starts at ``order_hour_of_day:00:00`` UTC that day, but never earlier than
      30 minutes after the user's previous order ended (same-day orders stay ordered);
    - its items follow ``add_to_cart_order``, 30 seconds apart.

    Events come back sorted by time (then session and position), ready to replay.
    """
    orders: dict[str, list[OrderLine]] = {}
    for line in lines:
        orders.setdefault(line.order_id, []).append(line)
    by_user: dict[str, list[list[OrderLine]]] = {}
    for items in orders.values():
        by_user.setdefault(items[0].user_id, []).append(items)
    timed: list[tuple[datetime, str, int, SessionEvent]] = []
    for user_id, user_orders in by_user.items():
        user_orders.sort(key=lambda items: items[0].order_number)
        day = timedelta(0)
        last_end: datetime | None = None
        for position, items in enumerate(user_orders):
            head = items[0]
            day += timedelta(days=head.order_dow if position == 0
                             else head.days_since_prior_order or 0)
            start = EPOCH + day + timedelta(hours=head.order_hour_of_day)
            if last_end is not None and start < last_end + MIN_ORDER_GAP:
                start = last_end + MIN_ORDER_GAP
            products = _dedupe(line.product_id for line in
                               sorted(items, key=lambda x: x.add_to_cart_order))
            for k, product in enumerate(products):
                at = start + k * ITEM_SPACING
                timed.append((at, head.order_id, k,
                              SessionEvent(head.order_id, _iso(at), product, user_id)))
                last_end = at
    timed.sort(key=lambda entry: entry[:3])
    return [event for *_, event in timed]


def user_sessions(lines: Iterable[OrderLine]) -> list[SessionEvent]:
    """Every shopper's whole history as one long session whose id is the user id.

    The events, times and order are those of :func:`session_events`: a product appears
    once per order but comes back in every later order that holds it again, so a
    recommender can learn what a shopper re-buys.
    """
    return [replace(event, session_id=event.user_id) for event in session_events(lines)]


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
