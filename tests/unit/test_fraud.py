from __future__ import annotations

from typing import Any

import pytest
from orders import buy, on_orders

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.insights import FraudAlert
from shopstream.events.records import BasketCompletion
from shopstream.operators.baskets import BasketTracker
from shopstream.operators.fraud import (
    FREQUENT_ORDERS,
    HIGH_VALUE,
    REPEATED_ORDER,
    DeviceFraudDetector,
    FraudConfig,
    FraudDetector,
)
from shopstream.pipeline import by_customer
from shopstream.runners.embedded.engine import Engine
from shopstream.topology import Stage, Topology

SEC = 1_000


def alerts(events: list[Any], config: FraudConfig | None = None) -> list[FraudAlert]:
    outs = on_orders(FraudDetector(config), lambda b: b.user_id, events)
    assert all(o.stream == streams.FRAUD_ALERTS and o.key == o.record.user_id for o in outs)
    return [o.record for o in outs]


def test_more_than_five_orders_in_a_minute_alerts_once_with_the_evidence() -> None:
    events = [buy(i * 10 * SEC, total=10.0 + i) for i in range(7)]
    [alert] = alerts(events)
    assert (alert.rule, alert.severity, alert.detected_at) == (FREQUENT_ORDERS, "HIGH", 50 * SEC)
    assert alert.order_ids == ("o0", "o10000", "o20000", "o30000", "o40000", "o50000")
    assert alert.amounts == (10.0, 11.0, 12.0, 13.0, 14.0, 15.0)
    assert alert.order_times == tuple(i * 10 * SEC for i in range(6))
    assert alert.scope == "CUSTOMER" and alert.user_ids == ()


def test_the_window_is_half_open_six_orders_spanning_exactly_a_minute_are_fine() -> None:
    assert alerts([buy(i * 12 * SEC, total=1.0 + i) for i in range(6)]) == []
    [alert] = alerts([buy(i * 12 * SEC - (i == 5), total=1.0 + i) for i in range(6)])
    assert alert.rule == FREQUENT_ORDERS


def test_crossing_the_threshold_twice_alerts_twice() -> None:
    burst = [buy(i * SEC, total=1.0 + i) for i in range(6)]
    later = [buy(120 * SEC + i * SEC, total=1.0 + i) for i in range(6)]
    first, second = alerts([*burst, *later])
    assert first.order_times[-1] == 5 * SEC and second.order_times[0] == 120 * SEC
    # staying above the limit does not repeat the alert
    assert len(alerts([buy(i * 5 * SEC, total=1.0 + i) for i in range(40)])) == 1


def test_customers_are_independent() -> None:
    events = [buy(i * SEC, user=f"u{i % 2}", total=1.0 + i) for i in range(10)]
    assert alerts(events) == []


def test_high_value_above_the_threshold_and_high_severity_from_twice() -> None:
    out = alerts([buy(0, total=1_000.0), buy(SEC, total=1_000.01), buy(2 * SEC, total=2_000.0)])
    assert [(a.rule, a.order_ids, a.severity) for a in out] == [
        (HIGH_VALUE, ("o1000",), "MEDIUM"), (HIGH_VALUE, ("o2000",), "HIGH")]
    assert alerts([buy(0, total=600.0)], FraudConfig(high_value=500.0))[0].amounts == (600.0,)


def test_order_value_comes_from_the_items_when_there_is_no_cart_total() -> None:
    [alert] = alerts([buy(0, items=[("tv", 700.0, 2)])])
    assert alert.amounts == (1_400.0,)


def test_repeated_identical_orders_within_the_window() -> None:
    same = [("a", 10.0, 2), ("b", 5.0, 1)]
    out = alerts([buy(0, items=same), buy(60 * SEC, items=list(reversed(same))),
                  buy(120 * SEC, items=same)])
    assert [(a.rule, a.order_ids, a.severity) for a in out] == [
        (REPEATED_ORDER, ("o0", "o60000"), "LOW"),
        (REPEATED_ORDER, ("o0", "o60000", "o120000"), "MEDIUM")]
    assert out[0].amounts == (25.0, 25.0)


@pytest.mark.parametrize("second", [
    buy(60 * SEC, items=[("a", 10.0, 3)]),                  # other quantity
    buy(60 * SEC, items=[("a", 10.0, 2)], total=21.0),      # other amount
    buy(600 * SEC, items=[("a", 10.0, 2)]),                 # exactly 10 minutes later
])
def test_different_or_distant_orders_are_not_repeats(second: Any) -> None:
    assert alerts([buy(0, items=[("a", 10.0, 2)]), second]) == []


def test_orders_without_items_are_not_compared() -> None:
    assert alerts([buy(0, total=20.0), buy(SEC, total=20.0)]) == []


def test_device_scope_flags_identical_orders_of_different_customers() -> None:
    item = [("gift-card", 50.0, 2)]
    events = [buy(0, "eve", items=item, device="fp-1"), buy(SEC, "eve", items=item, device="fp-1"),
              buy(2 * SEC, "bob", items=item, device="fp-1"),
              buy(3 * SEC, "amy", items=item, device="fp-2"), buy(4 * SEC, "zed", items=item)]
    outs = on_orders(DeviceFraudDetector(), lambda b: b.device or "", events)
    [alert] = [o.record for o in outs]
    assert (alert.rule, alert.scope, alert.severity, alert.device) == (
        REPEATED_ORDER, "DEVICE", "HIGH", "fp-1")
    assert alert.user_ids == ("eve", "eve", "bob") and alert.user_id == "bob"


def test_state_is_cleared_once_the_orders_expire() -> None:
    topo = Topology((Stage(BasketTracker(), ("events",), lambda e: e.session_id),
                     Stage(FraudDetector(), ("basket-completions",), lambda b: b.user_id)), ())
    engine = Engine(topo, 0, lambda _: None)
    for i in range(30):
        engine.offer(buy(i * 60 * SEC, user=f"u{i}", total=1.0))
    engine.drain()
    backend = engine.contexts[1].backend
    assert 0 < backend.key_count() <= 11   # the last 10 minutes of customers
    engine.finish()
    assert backend.key_count() == 0


def test_fraud_keys_orders_by_customer_in_the_pipeline() -> None:
    b = BasketCompletion("s", "u9", "COMPLETED", (), 1.0, 0)
    assert by_customer(b) == "u9"


@pytest.mark.parametrize("kwargs", [{"max_orders": 0}, {"frequency_window_ms": 0},
                                    {"high_value": 0.0}, {"repeat_window_ms": -5}])
def test_bad_config_names_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        FraudConfig(**kwargs)
