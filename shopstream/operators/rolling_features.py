"""Rolling 5-minute and 1-hour window features per shopper, sliding every 30 s of event time.

The windows slide by one 30-second slot of event time: at slot end ``B`` the values of a
window ``W`` (5 minutes or 1 hour) cover the shopper's events with timestamps in
``(B - W, B]``. They are emitted at every slot end where any of them changed, which is
where an event enters a window (the slot it happened in) or leaves it (``W`` later):
while the shopper is active that is every slot, and once they are idle, only the slots
where an old event drops out, so stored values never go stale. The last emission of an
idle shopper is all zero; their state is then dropped. Only events of the kinds below
count; events older than an hour are pruned as the watermark moves.

* ``product_view_count``: ``VIEW_PRODUCT`` events;
* ``category_view_count``: ``BROWSE_CATEGORY`` events;
* ``cart_add_count`` / ``cart_remove_count``: ``ADD_TO_CART`` / ``REMOVE_FROM_CART`` events;
* ``cart_value``: value of what was added to the cart in the window and not removed again
  in it (price x quantity per product; a remove without quantity removes the product; a
  remove without price uses the product's add price), rounded to cents;
* ``avg_viewed_price`` / ``price_range_viewed``: mean and max - min of the prices of
  viewed products (``None`` when no priced view is in the window), rounded to cents.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.VIEW_PRODUCT, 10_000, "s", user_id="u", product_id="p",
...                     price=20.0),
...        ShopperEvent(EventType.VIEW_PRODUCT, 40_000, "s", user_id="u", product_id="q",
...                     price=30.0)]
>>> outs = run_operator(RollingFeatures(), evs, key_by=lambda e: e.user_id)
>>> for o in outs:
...     f = o.record.features
...     print(o.record.computed_at, f["product_view_count_5min"], f["avg_viewed_price_5min"],
...           f["product_view_count_1hr"], f["price_range_viewed_1hr"])
30000 1 20.0 1 0.0
60000 2 25.0 2 10.0
330000 1 30.0 2 10.0
360000 0 None 2 10.0
3630000 0 None 1 0.0
3660000 0 None 0 None
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import USER, WINDOWS, FeaturesConfig, slot_end
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["RollingFeatures", "UserWindow", "window_values"]

_VIEW = EventType.VIEW_PRODUCT
_BROWSE = EventType.BROWSE_CATEGORY
_ADD = EventType.ADD_TO_CART
_REMOVE = EventType.REMOVE_FROM_CART
# Small ints in the kept tuples: cheaper to store and compare than enum members.
_CODES = {_VIEW: 0, _BROWSE: 1, _ADD: 2, _REMOVE: 3}
_SHORT_SUFFIX, _SHORT_MS = WINDOWS[0]
_LONG_SUFFIX, _LONG_MS = WINDOWS[1]
_NAMES = ("product_view_count", "category_view_count", "cart_add_count",
          "cart_remove_count", "cart_value", "avg_viewed_price", "price_range_viewed")
_SHORT_NAMES = tuple(f"{n}_{_SHORT_SUFFIX}" for n in _NAMES)
_LONG_NAMES = tuple(f"{n}_{_LONG_SUFFIX}" for n in _NAMES)
_ALL_NAMES = _SHORT_NAMES + _LONG_NAMES

#: One kept event: (timestamp_ms, code, product_id, price, quantity or None).
Kept = tuple[int, int, str | None, float | None, int | None]


class UserWindow(msgspec.Struct, gc=False):
    """A shopper's events of the last hour (time order), pending timer, last values sent."""

    timer_ms: int
    events: list[Kept]
    sent: tuple[Any, ...] = ()


_WINDOW = ValueStateDescriptor[UserWindow]("window")


def window_values(events: list[Kept], start: int) -> tuple[Any, ...]:
    """The seven rolling values over ``events[start:]``, in catalog order.

    Examples
    --------
    >>> window_values([(1, 2, "p", 10.0, 2), (2, 3, "p", None, 1), (3, 0, "p", 4.0, None)], 0)
    (1, 0, 1, 1, 10.0, 4.0, 0.0)
    """
    views = browses = adds = removes = 0
    price_sum = 0.0
    priced = 0
    low = high = 0.0
    cart: dict[str, list[Any]] = {}
    for i in range(start, len(events)):
        _, code, pid, price, qty = events[i]
        if code == 0:
            views += 1
            if price is not None:
                if not priced:
                    low = high = price
                elif price < low:
                    low = price
                elif price > high:
                    high = price
                priced += 1
                price_sum += price
        elif code == 1:
            browses += 1
        elif code == 2:
            adds += 1
            if pid is None:
                continue
            line = cart.get(pid)
            if line is None:
                cart[pid] = [1 if qty is None else qty, price or 0.0]
            else:
                line[0] += 1 if qty is None else qty
                if price is not None:
                    line[1] = price
        else:
            removes += 1
            line = cart.get(pid) if pid is not None else None
            if line is not None:
                line[0] = 0 if qty is None else max(0, line[0] - qty)
                if price is not None:
                    line[1] = price
    value = round(sum((q * p for q, p in cart.values()), 0.0), 2)
    if not priced:
        return views, browses, adds, removes, value, None, None
    return (views, browses, adds, removes, value, round(price_sum / priced, 2),
            round(high - low, 2))


class RollingFeatures(KeyedOperator[ShopperEvent]):
    """Keyed by user: the rolling-window features of the catalog (see module docs)."""

    name = "rolling-features"
    state_descriptors = (_WINDOW,)

    def __init__(self, config: FeaturesConfig | None = None) -> None:
        self.config = config or FeaturesConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        code = _CODES.get(element.event_type)
        if code is None:
            return ()
        state = ctx.state(_WINDOW)
        win = state.value()
        ts = element.timestamp_ms
        slot = slot_end(ts, self.config.slide_ms)
        if win is None:
            win = UserWindow(slot, [])
            ctx.register_event_timer(slot)
        elif win.timer_ms > slot:
            # A pending timer is never before this event's slot (timers fire in time order),
            # but may be later: at the slot where an older event leaves a window.
            ctx.delete_event_timer(win.timer_ms)
            ctx.register_event_timer(slot)
            win.timer_ms = slot
        win.events.append((ts, code, element.product_id, element.price, element.quantity))
        state.update(win)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_WINDOW)
        win = state.value()
        if win is None or win.timer_ms != timestamp_ms:
            return ()
        events = win.events
        cut = 0
        long_lo = timestamp_ms - _LONG_MS
        while cut < len(events) and events[cut][0] <= long_lo:
            cut += 1
        if cut:
            del events[:cut]
        short_lo = timestamp_ms - _SHORT_MS
        start = len(events)
        while start and events[start - 1][0] > short_lo:
            start -= 1
        values = window_values(events, start) + window_values(events, 0)
        out: tuple[Output, ...] = ()
        if values != win.sent:
            win.sent = values
            record = ShopperFeatures(USER, ctx.key, timestamp_ms, dict(zip(_ALL_NAMES, values,
                                                                           strict=True)))
            out = (Output(streams.SHOPPER_FEATURES, ctx.key, record),)
        if not events:
            state.clear()
            return out
        # The next change: the oldest event of either window leaving it.
        slide = self.config.slide_ms
        leave = slot_end(events[0][0] + _LONG_MS, slide)
        if start < len(events):
            leave = min(leave, slot_end(events[start][0] + _SHORT_MS, slide))
        win.timer_ms = leave
        ctx.register_event_timer(leave)
        state.update(win)
        return out
