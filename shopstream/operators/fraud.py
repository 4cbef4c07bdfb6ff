"""Fraud rules over completed orders, per customer and (optionally) per device.

Consumes ``basket-completions``: :class:`FraudDetector` keyed by ``userId``,
:class:`DeviceFraudDetector` keyed by ``device``. An order's amount is the basket's
``totalValue`` (``cartTotal``, else the items, else the session's cart); its id is the
``orderId``, else the purchase's ``eventId``.

Rules (each alert names the rule, the orders that triggered it and a severity):

* ``FREQUENT_ORDERS`` (``HIGH``): more than ``max_orders`` orders within
  ``frequency_window_ms``. One alert when the count crosses the limit; the customer is
  re-armed by an order at which the count is back within the limit, so crossing twice
  gives two alerts.
* ``HIGH_VALUE``: an order above ``high_value`` (``MEDIUM``; ``HIGH`` from twice that).
* ``REPEATED_ORDER``: an order with the same amount and the same items (product and
  quantity) as an earlier one within ``repeat_window_ms``: by the same customer
  (``LOW`` for the first repeat, ``MEDIUM`` from the second), or by different customers
  on one device (``HIGH``, scope ``DEVICE``). Orders without items are not compared.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.operators.baskets import BasketTracker
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> topology = Topology((
...     Stage(BasketTracker(), ("events",), key_by=lambda e: e.session_id),
...     Stage(FraudDetector(), ("basket-completions",), key_by=lambda b: b.user_id),
... ), sink_streams=("fraud-alerts",))
>>> orders = [ShopperEvent(EventType.PURCHASE, 1_000 * i, f"s{i}", user_id="mallory",
...                        order_id=f"o{i}", cart_total=1_500.0 if i == 3 else 20.0 + i)
...           for i in range(6)]
>>> for out in run_topology(topology, orders):
...     a = out.record
...     print(a.rule, a.severity, a.order_ids, a.amounts[-1])
HIGH_VALUE MEDIUM ('o3',) 1500.0
FREQUENT_ORDERS HIGH ('o0', 'o1', 'o2', 'o3', 'o4', 'o5') 25.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec

from shopstream.errors import require_positive
from shopstream.events import streams
from shopstream.events.insights import HIGH, LOW, MEDIUM, FraudAlert
from shopstream.events.records import BasketCompletion, Output
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["FREQUENT_ORDERS", "HIGH_VALUE", "REPEATED_ORDER", "DeviceFraudDetector",
           "FraudConfig", "FraudDetector"]

FREQUENT_ORDERS = "FREQUENT_ORDERS"
HIGH_VALUE = "HIGH_VALUE"
REPEATED_ORDER = "REPEATED_ORDER"


@dataclass(frozen=True)
class FraudConfig:
    """Thresholds of the fraud rules.

    Parameters
    ----------
    max_orders, frequency_window_ms
        More than ``max_orders`` orders in ``frequency_window_ms`` (defaults 5 and one
        minute) is ``FREQUENT_ORDERS``. The window holds orders at times ``t`` with
        ``now - frequency_window_ms < t <= now``.
    high_value
        An order above this amount is ``HIGH_VALUE`` (default 1000.00).
    repeat_window_ms
        How far back an identical order counts as a repeat (default 10 minutes).
    """

    max_orders: int = 5
    frequency_window_ms: int = 60_000
    high_value: float = 1_000.0
    repeat_window_ms: int = 10 * 60_000

    def __post_init__(self) -> None:
        require_positive(self, "max_orders", "frequency_window_ms", "repeat_window_ms",
                         "high_value")

    @property
    def retention_ms(self) -> int:
        """How long an order is remembered: the longest window of any rule."""
        return max(self.frequency_window_ms, self.repeat_window_ms)


class _Order(msgspec.Struct, frozen=True, gc=False):
    """What the rules remember of an order; ``lines`` is its sorted (product, quantity)."""

    ts: int
    order_id: str
    amount: float
    user_id: str
    lines: tuple[tuple[str, int], ...]


class _History(msgspec.Struct, gc=False):
    """Recent orders of one key, oldest first; ``above``: over the frequency limit."""

    orders: tuple[_Order, ...] = ()
    last_ms: int = 0
    above: bool = False


_HISTORY = ValueStateDescriptor[_History]("history")


def _order(b: BasketCompletion, ts: int) -> _Order:
    lines = tuple(sorted((line.product_id, line.quantity) for line in b.items))
    oid = b.order_id or b.event_id or f"{b.session_id}@{ts}"
    return _Order(ts, oid, round(b.total_value, 2), b.user_id, lines)


def _remember(ctx: Context, order: _Order, retention_ms: int) -> _History:
    """Add ``order`` to the key's history, forget what is older than ``retention_ms``, and
    make sure a timer will clear the history once it has all expired."""
    history = ctx.state(_HISTORY).value()
    ts = order.ts
    if history is None:
        history = _History()
        ctx.register_event_timer(ts + retention_ms)
    horizon = ts - retention_ms
    kept = history.orders
    if kept and kept[0].ts <= horizon:
        kept = tuple(o for o in kept if o.ts > horizon)
    if kept and kept[-1].ts > ts:
        # Out of order (possible on runners that do not sort by event time).
        history.orders = tuple(sorted((*kept, order), key=lambda o: o.ts))
    else:
        history.orders = (*kept, order)
    history.last_ms = max(history.last_ms, ts)
    return history


def _expire(ctx: Context, timestamp_ms: int, retention_ms: int) -> None:
    """Timer: clear a key whose orders have all expired, else look again later."""
    state = ctx.state(_HISTORY)
    history = state.value()
    if history is None:
        return
    due = history.last_ms + retention_ms
    if due > timestamp_ms:
        ctx.register_event_timer(due)
    else:
        state.clear()


def _repeats(history: _History, order: _Order, window_ms: int) -> list[_Order]:
    """Orders within ``window_ms`` with the same amount and items as ``order`` (included)."""
    if not order.lines:
        return []
    horizon = order.ts - window_ms
    return [o for o in history.orders
            if o.ts > horizon and o.amount == order.amount and o.lines == order.lines]


def _alert(rule: str, user_id: str, orders: Sequence[_Order], severity: str, ts: int,
           reason: str, scope: str = "CUSTOMER", device: str | None = None) -> FraudAlert:
    return FraudAlert(
        rule=rule,
        user_id=user_id,
        order_ids=tuple(o.order_id for o in orders),
        amounts=tuple(o.amount for o in orders),
        order_times=tuple(o.ts for o in orders),
        severity=severity,
        detected_at=ts,
        reason=reason,
        scope=scope,
        device=device,
        user_ids=tuple(o.user_id for o in orders) if scope != "CUSTOMER" else (),
    )


class FraudDetector(KeyedOperator[BasketCompletion]):
    """Keyed by customer (``userId``): frequent, high-value and repeated orders.

    Keeps the customer's orders of the last ``max(frequency_window_ms,
    repeat_window_ms)``; the state is cleared by a timer once they have all expired.
    """

    name = "fraud"
    state_descriptors = (_HISTORY,)

    def __init__(self, config: FraudConfig | None = None) -> None:
        self.config = config or FraudConfig()

    def process_element(self, element: BasketCompletion, ctx: Context) -> Iterable[Output]:
        cfg = self.config
        ts = ctx.timestamp_ms
        order = _order(element, ts)
        history = _remember(ctx, order, cfg.retention_ms)
        user = element.user_id
        alerts: list[FraudAlert] = []
        horizon = ts - cfg.frequency_window_ms
        recent = [o for o in history.orders if o.ts > horizon]
        if len(recent) > cfg.max_orders:
            if not history.above:
                history.above = True
                alerts.append(_alert(
                    FREQUENT_ORDERS, user, recent, HIGH, ts,
                    f"{len(recent)} orders within {cfg.frequency_window_ms // 1000} s "
                    f"(limit {cfg.max_orders})"))
        else:
            history.above = False
        if order.amount > cfg.high_value:
            severity = HIGH if order.amount >= 2 * cfg.high_value else MEDIUM
            alerts.append(_alert(HIGH_VALUE, user, (order,), severity, ts,
                                 f"order of {order.amount:.2f} above {cfg.high_value:.2f}"))
        same = _repeats(history, order, cfg.repeat_window_ms)
        if len(same) > 1:
            alerts.append(_alert(
                REPEATED_ORDER, user, same, LOW if len(same) == 2 else MEDIUM, ts,
                f"{len(same)} orders of {order.amount:.2f} with the same items within "
                f"{cfg.repeat_window_ms // 1000} s"))
        ctx.state(_HISTORY).update(history)
        return [Output(streams.FRAUD_ALERTS, user, a) for a in alerts]

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        _expire(ctx, timestamp_ms, self.config.retention_ms)
        return ()


class DeviceFraudDetector(KeyedOperator[BasketCompletion]):
    """Keyed by ``device``: identical orders placed by different customers on one device.

    Only meaningful when ``device`` identifies a device or card (a fingerprint), not a
    device type such as ``mobile``; the default pipeline therefore leaves it out unless
    asked (``PipelineConfig.fraud_by_device``). Orders without a device are ignored.
    """

    name = "fraud-devices"
    state_descriptors = (_HISTORY,)

    def __init__(self, config: FraudConfig | None = None) -> None:
        self.config = config or FraudConfig()

    def process_element(self, element: BasketCompletion, ctx: Context) -> Iterable[Output]:
        if element.device is None:
            return ()
        cfg = self.config
        ts = ctx.timestamp_ms
        order = _order(element, ts)
        history = _remember(ctx, order, cfg.repeat_window_ms)
        ctx.state(_HISTORY).update(history)
        same = _repeats(history, order, cfg.repeat_window_ms)
        users = {o.user_id for o in same}
        if len(users) < 2:
            return ()
        alert = _alert(REPEATED_ORDER, element.user_id, same, HIGH, ts,
                       f"{len(same)} orders of {order.amount:.2f} with the same items by "
                       f"{len(users)} customers on one device within "
                       f"{cfg.repeat_window_ms // 1000} s", scope="DEVICE",
                       device=element.device)
        return (Output(streams.FRAUD_ALERTS, element.user_id, alert),)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        _expire(ctx, timestamp_ms, self.config.repeat_window_ms)
        return ()
