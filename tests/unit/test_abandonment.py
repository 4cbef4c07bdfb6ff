from __future__ import annotations

from typing import Any

import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.insights import CartAbandonment
from shopstream.operators.abandonment import (
    VIEWED,
    VIEWED_SAME_CATEGORY,
    AbandonmentConfig,
    CartAbandonmentDetector,
)
from shopstream.operators.baskets import BasketTracker
from shopstream.operators.cart import Cart
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_operator
from shopstream.runners.embedded.state_backend import HeapStateBackend
from shopstream.topology import Stage, Topology

MIN = 60_000
TIMEOUT = 15 * MIN


def run(events: list[Any], config: AbandonmentConfig | None = None) -> list[CartAbandonment]:
    outs = run_operator(CartAbandonmentDetector(config), events, key_by=lambda e: e.session_id)
    assert all(o.stream == streams.CART_ABANDONMENT for o in outs)
    return [o.record for o in outs]


def add(ts: int, pid: str, price: float, qty: int = 1, session: str = "s1",
        **kw: Any) -> Any:
    return ev("ADD_TO_CART", ts, session, product_id=pid, price=price, quantity=qty, **kw)


def test_a_valuable_add_without_purchase_emits_one_record_at_the_timeout() -> None:
    [rec] = run([add(1_000, "tv", 120.0, category="TV")])
    assert (rec.session_id, rec.cart_value, rec.last_add_time, rec.detected_at) == (
        "s1", 120.0, 1_000, 1_000 + TIMEOUT)
    assert [(i.product_id, i.quantity) for i in rec.items] == [("tv", 1)]
    assert rec.offer == "FREE_SHIPPING"
    assert rec.recommendation_source == "session-views"


def test_cheap_carts_are_ignored_but_price_times_quantity_or_the_cart_total_count() -> None:
    assert run([add(0, "pen", 2.0), add(1, "ink", 40.0)]) == []
    [by_quantity] = run([add(0, "pen", 25.0, qty=4)])
    assert by_quantity.cart_value == 100.0
    [by_total] = run([add(0, "a", 60.0), add(1, "b", 40.0)])
    assert by_total.cart_value == 100.0 and by_total.last_add_time == 1
    cfg = AbandonmentConfig(min_add_value=50.0, min_cart_value=1_000.0)
    assert len(run([add(0, "a", 60.0)], cfg)) == 1


def test_purchase_cancels_and_further_adds_extend_the_deadline() -> None:
    assert run([add(0, "tv", 500.0), ev("PURCHASE", TIMEOUT - 1)]) == []
    [rec] = run([add(0, "tv", 500.0), add(10 * MIN, "cable", 5.0)])
    assert rec.last_add_time == 10 * MIN and rec.detected_at == 10 * MIN + TIMEOUT
    assert rec.cart_value == 505.0


def test_a_purchase_exactly_at_the_timeout_still_counts_one_ms_later_does_not() -> None:
    assert run([add(0, "tv", 500.0), ev("PURCHASE", TIMEOUT)]) == []
    [rec] = run([add(0, "tv", 500.0), ev("PURCHASE", TIMEOUT + 1)])
    assert rec.detected_at == TIMEOUT


def test_one_record_per_abandoned_cart_and_a_return_rearms() -> None:
    events = [add(0, "tv", 500.0), add(1, "tv", 500.0), add(2, "tv", 500.0)]
    [rec] = run(events)
    assert rec.items[0].quantity == 3 and rec.cart_value == 1_500.0
    # back after the record: the kept cart still qualifies, so a new add re-arms
    back = [*events, add(20 * MIN, "mouse", 10.0)]
    _, second = run(back)
    assert second.cart_value == 1_510.0 and second.last_add_time == 20 * MIN


def test_removals_that_leave_a_cheap_cart_disarm() -> None:
    assert run([add(0, "tv", 500.0), ev("REMOVE_FROM_CART", 1, product_id="tv")]) == []
    assert run([add(0, "tv", 500.0), add(1, "pen", 5.0),
                ev("REMOVE_FROM_CART", 2, product_id="tv")]) == []
    cfg = AbandonmentConfig(min_add_value=50.0, min_cart_value=1_000.0)
    [kept] = run([add(0, "tv", 60.0), add(1, "pen", 5.0, qty=9),
                  ev("REMOVE_FROM_CART", 2, product_id="pen", quantity=2)], cfg)
    assert kept.cart_value == 95.0
    [rec] = run([add(0, "tv", 500.0, qty=2),
                 ev("REMOVE_FROM_CART", 1, product_id="tv", quantity=1)])
    assert rec.cart_value == 500.0


def test_recommendations_are_unadded_views_same_category_first() -> None:
    events = [
        ev("VIEW_PRODUCT", 0, product_id="hat", product_name="Hat", category="Fashion"),
        ev("VIEW_PRODUCT", 1, product_id="tv", category="TV"),
        ev("VIEW_PRODUCT", 2, product_id="soundbar", product_name="Bar", category="TV"),
        ev("VIEW_PRODUCT", 3, product_id="hat", product_name="Hat", category="Fashion"),
        ev("VIEW_PRODUCT", 4, product_id="remote", category="TV"),
        add(5, "tv", 400.0, category="TV"),
    ]
    [rec] = run(events)
    assert [(r.product_id, r.reason) for r in rec.recommendations] == [
        ("remote", VIEWED_SAME_CATEGORY), ("soundbar", VIEWED_SAME_CATEGORY), ("hat", VIEWED)]
    assert rec.recommendations[1].product_name == "Bar"
    [few] = run(events, AbandonmentConfig(max_recommendations=1))
    assert [r.product_id for r in few.recommendations] == ["remote"]
    [none] = run(events, AbandonmentConfig(view_history=0))
    assert none.recommendations == ()


@pytest.mark.parametrize(("value", "offer"), [(100.0, "FREE_SHIPPING"), (150.0, "TEN_PERCENT"),
                                              (300.0, "FIFTEEN_PERCENT")])
def test_offer_tier_by_cart_value(value: float, offer: str) -> None:
    [rec] = run([add(0, "x", value)])
    assert rec.offer == offer


def test_sessions_are_independent() -> None:
    op = CartAbandonmentDetector()
    outs = run_operator(op, [add(0, "tv", 500.0, session="a"), add(1, "pen", 1.0, session="b"),
                             ev("PURCHASE", 2, "b")], key_by=lambda e: e.session_id)
    assert [o.record.session_id for o in outs] == ["a"]


def test_state_is_bounded() -> None:
    topo = Topology((Stage(CartAbandonmentDetector(), ("events",), lambda e: e.session_id),),
                    (streams.CART_ABANDONMENT,))
    engine = Engine(topo, 0, lambda _: None)
    for i in range(150):
        engine.offer(add(i * MIN, "tv", 500.0, session=f"s{i}"))
        engine.offer(ev("VIEW_PRODUCT", i * MIN, f"v{i}", product_id="p"))
    engine.drain()
    backend: HeapStateBackend = engine.contexts[0].backend
    # idle sessions are dropped within two 30-minute gaps: at most 2 x 61 of 300 remain
    assert backend.key_count() <= 2 * 61
    engine.finish()
    assert backend.key_count() == 0


@pytest.mark.parametrize("kwargs", [
    {"timeout_ms": 0}, {"session_gap_ms": -1}, {"min_add_value": -1.0},
    {"max_recommendations": -1}, {"offer_tiers": ((300.0, "A"), (150.0, "B"))},
    {"offer_tiers": ((100.0, ""),)}, {"top_offer": ""},
])
def test_bad_config_names_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        AbandonmentConfig(**kwargs)


def test_detector_and_basket_tracker_keep_the_same_cart_through_a_remove_without_quantity(
) -> None:
    """Both operators replay the cart through shopstream.operators.cart: same lines."""
    events = [
        add(0, "lamp", 200.0),
        ev("PURCHASE", 1),  # empties the cart for both
        add(2, "rug", 120.0, qty=2),
        add(3, "vase", 30.0, qty=3),
        ev("REMOVE_FROM_CART", 4, product_id="rug"),  # no quantity: the whole line
        ev("REMOVE_FROM_CART", 5, product_id="ghost"),  # not in the cart: nothing
        ev("REMOVE_FROM_CART", 6, product_id="vase", quantity=9),  # more than there is
        add(7, "sofa", 400.0),
        add(8, "rug", 110.0),  # back after the remove, at a new price
    ]
    [rec] = run(events)
    tracked = [o.record for o in run_operator(BasketTracker(), events,
                                              key_by=lambda e: e.session_id)
               if o.stream == streams.ABANDONED_BASKETS]
    [abandoned] = tracked
    cart = Cart()
    for event in events:
        cart.apply(event)
    assert rec.items == abandoned.items == cart.sorted_lines()
    assert [(i.product_id, i.quantity, i.price) for i in rec.items] == [
        ("rug", 1, 110.0), ("sofa", 1, 400.0)]
    assert rec.cart_value == abandoned.total_value == 510.0
