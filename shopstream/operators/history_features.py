"""24-hour history per shopper: orders, order value and favourite categories.

Values over the events with timestamps in ``(B - 24h, B]``, emitted at slot end ``B``
whenever they changed: at the end of the slot of an event that counts here, and at the
slot ends where an event leaves the 24-hour window (so the last emission of an idle
shopper is all zero, after which the state is dropped).

* ``orders_count_24hr``: ``PURCHASE`` events;
* ``order_value_24hr``: their value (``cartTotal``, else the sum of ``items`` price x
  quantity, else ``price`` x ``quantity``), rounded to cents;
* ``avg_order_value_24hr``: value per order (``None`` without orders);
* ``top_category_24hr``: the category touched most (product views, category browses,
  cart and wishlist adds, purchased items); ties go to the alphabetically first;
  ``None`` when none was touched;
* ``unique_categories_24hr``: how many distinct categories were touched.

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.VIEW_PRODUCT, 0, "s", user_id="u", product_id="p",
...                     category="Books"),
...        ShopperEvent(EventType.PURCHASE, 20_000, "s", user_id="u",
...                     items=(Item("p", category="Toys", price=5.0, quantity=2),))]
>>> for o in run_operator(HistoryFeatures(), evs, key_by=lambda e: e.user_id):
...     f = o.record.features
...     print(o.record.computed_at, f["orders_count_24hr"], f["order_value_24hr"],
...           f["top_category_24hr"], f["unique_categories_24hr"])
0 0 0.0 Books 1
30000 1 10.0 Books 2
86400000 1 10.0 Toys 1
86430000 0 0.0 None 0
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import (
    HISTORY_FEATURES,
    HISTORY_MS,
    USER,
    FeaturesConfig,
    slot_end,
)
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["HistoryFeatures", "UserHistory", "order_value"]

_PURCHASE = EventType.PURCHASE
_TOUCHES = frozenset({EventType.VIEW_PRODUCT, EventType.BROWSE_CATEGORY,
                      EventType.ADD_TO_CART, EventType.ADD_TO_WISHLIST})


class UserHistory(msgspec.Struct, gc=False):
    """A shopper's orders and category touches of the last 24 hours (time order), the
    touches per category, the pending timer and the values last emitted."""

    timer_ms: int
    orders: list[tuple[int, float]]
    touches: list[tuple[int, str]]
    counts: dict[str, int]
    sent: tuple[object, ...] = ()


_HISTORY = ValueStateDescriptor[UserHistory]("history")



def order_value(event: ShopperEvent) -> float:
    """What a purchase is worth: ``cartTotal``, else its items, else price x quantity.

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> order_value(ShopperEvent(EventType.PURCHASE, 0, "s", price=2.5, quantity=3))
    7.5
    """
    if event.cart_total is not None:
        return event.cart_total
    if event.items:
        return sum(item.price * item.quantity for item in event.items)
    qty = 1 if event.quantity is None else event.quantity
    return (event.price or 0.0) * qty


class HistoryFeatures(KeyedOperator[ShopperEvent]):
    """Keyed by user: the 24-hour history features of the catalog (see module docs)."""

    name = "history-features"
    state_descriptors = (_HISTORY,)

    def __init__(self, config: FeaturesConfig | None = None) -> None:
        self.config = config or FeaturesConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        kind = element.event_type
        ts = element.timestamp_ms
        if kind is _PURCHASE:
            categories = [i.category for i in element.items or () if i.category]
            if not element.items and element.category:
                categories.append(element.category)
        elif kind in _TOUCHES and element.category:
            categories = [element.category]
        else:
            return ()
        state = ctx.state(_HISTORY)
        history = state.value()
        slot = slot_end(ts, self.config.slide_ms)
        if history is None:
            history = UserHistory(slot, [], [], {})
            ctx.register_event_timer(slot)
        if kind is _PURCHASE:
            history.orders.append((ts, order_value(element)))
        counts = history.counts
        for category in categories:
            history.touches.append((ts, category))
            counts[category] = counts.get(category, 0) + 1
        # A timer at or before this slot will emit anyway; otherwise wake up only if the
        # values changed (most touches leave the top category and the count as they were).
        if history.timer_ms > slot and (kind is _PURCHASE or _moved(history.sent, counts,
                                                                     categories)):
            ctx.delete_event_timer(history.timer_ms)
            ctx.register_event_timer(slot)
            history.timer_ms = slot
        state.update(history)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_HISTORY)
        history = state.value()
        if history is None or history.timer_ms != timestamp_ms:
            return ()
        low = timestamp_ms - HISTORY_MS
        orders = _prune(history.orders, low)
        touches = history.touches
        counts = history.counts
        cut = 0
        while cut < len(touches) and touches[cut][0] <= low:
            category = touches[cut][1]
            left = counts[category] - 1
            if left:
                counts[category] = left
            else:
                del counts[category]
            cut += 1
        if cut:
            del touches[:cut]
        values = _values(orders, counts)
        out: tuple[Output, ...] = ()
        if values != history.sent:
            history.sent = values
            record = ShopperFeatures(USER, ctx.key, timestamp_ms,
                                     dict(zip(HISTORY_FEATURES, values, strict=True)))
            out = (Output(streams.SHOPPER_FEATURES, ctx.key, record),)
        oldest = min((kept[0][0] for kept in (orders, touches) if kept), default=None)
        if oldest is None:
            state.clear()
            return out
        history.timer_ms = slot_end(oldest + HISTORY_MS, self.config.slide_ms)
        ctx.register_event_timer(history.timer_ms)
        state.update(history)
        return out


def _prune(kept: list[tuple[int, float]], low: int) -> list[tuple[int, float]]:
    cut = 0
    while cut < len(kept) and kept[cut][0] <= low:
        cut += 1
    if cut:
        del kept[:cut]
    return kept


def _values(orders: list[tuple[int, float]], counts: dict[str, int]) -> tuple[object, ...]:
    value = round(sum((v for _, v in orders), 0.0), 2)
    top = min(counts.items(), key=_by_count)[0] if counts else None
    return (len(orders), value, round(value / len(orders), 2) if orders else None, top,
            len(counts))


def _moved(sent: tuple[object, ...], counts: dict[str, int], touched: list[str]) -> bool:
    """Whether new touches of ``touched`` change the top category or the distinct count."""
    if not sent or sent[4] != len(counts):
        return True
    top = sent[3]
    if not isinstance(top, str):
        return True
    best = counts.get(top, 0)
    return any(c != top and (counts[c] > best or (counts[c] == best and c < top))
               for c in touched)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
