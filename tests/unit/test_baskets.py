from __future__ import annotations

import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.events import Item, Output, ShopperEvent, streams
from shopstream.events.records import BasketCompletion
from shopstream.operators.abandonment import CartAbandonmentDetector
from shopstream.operators.baskets import ABANDONED, COMPLETED, BasketConfig, BasketTracker
from shopstream.operators.cart import Cart
from shopstream.runners.embedded.harness import run_operator

GAP = 30 * 60 * 1000


def run(events: list, config: BasketConfig | None = None) -> list[Output]:  # type: ignore[type-arg]
    return run_operator(BasketTracker(config), events, key_by=lambda e: e.session_id)


def baskets(outputs: list[Output]) -> list[BasketCompletion]:
    return [o.record for o in outputs
            if o.stream in (streams.BASKET_COMPLETIONS, streams.ABANDONED_BASKETS)]


def test_add_remove_and_purchase() -> None:
    out = baskets(run([
        ev("ADD_TO_CART", 1, product_id="a", product_name="A", category="c", price=2.0,
           quantity=3),
        ev("ADD_TO_CART", 2, product_id="b", price=5.0),
        ev("REMOVE_FROM_CART", 3, product_id="a", quantity=1),
        ev("ADD_TO_CART", 4, product_id="a", quantity=1),
        ev("PURCHASE", 5, order_id="o1"),
    ]))
    assert len(out) == 1
    done = out[0]
    assert (done.status, done.order_id, done.completion_time) == (COMPLETED, "o1", 5)
    assert [(i.product_id, i.quantity, i.price, i.product_name) for i in done.items] == [
        ("a", 3, 2.0, "A"), ("b", 1, 5.0, None)]
    assert done.total_value == 11.0


def test_remove_never_goes_below_zero_and_without_quantity_removes_the_line() -> None:
    out = baskets(run([
        ev("ADD_TO_CART", 1, product_id="a", price=1.0, quantity=2),
        ev("REMOVE_FROM_CART", 2, product_id="a", quantity=5),
        ev("REMOVE_FROM_CART", 3, product_id="zzz", quantity=1),
        ev("ADD_TO_CART", 4, product_id="b", price=1.0, quantity=2),
        ev("REMOVE_FROM_CART", 5, product_id="b"),
        ev("ADD_TO_CART", 6, product_id="c", price=4.0),
        ev("PURCHASE", 7),
    ]))
    assert [(i.product_id, i.quantity) for i in out[0].items] == [("c", 1)]


def test_purchase_items_win_over_the_cart_and_cart_total_over_the_sum() -> None:
    out = baskets(run([
        ev("ADD_TO_CART", 1, product_id="a", product_name="Alpha", category="x", price=1.0),
        ev("PURCHASE", 2, cart_total=99.5, items=(Item("a", price=3.0, quantity=2),
                                                 Item("z", "Zed", "y", 1.0, 1))),
        ev("PURCHASE", 3, items=(Item("q", price=2.5, quantity=2),)),
    ]))
    first, second = out
    assert [(i.product_id, i.product_name, i.category, i.price) for i in first.items] == [
        ("a", "Alpha", "x", 3.0), ("z", "Zed", "y", 1.0)]
    assert first.total_value == 99.5
    assert second.total_value == 5.0


def test_single_product_purchase_and_empty_purchase_are_reported() -> None:
    out = baskets(run([
        ev("PURCHASE", 1, product_id="p", price=4.0, quantity=2),
        ev("PURCHASE", 2, cart_total=0.0),
    ]))
    assert [(len(b.items), b.total_value) for b in out] == [(1, 8.0), (0, 0.0)]


def test_inactivity_abandons_a_non_empty_basket_and_clears_state() -> None:
    out = baskets(run([
        ev("VIEW_PRODUCT", 0, product_id="v"),
        ev("ADD_TO_CART", 1_000, product_id="a", price=2.0),
        ev("PAGE_VIEW", 2_000),
        # a new session with the same id after the gap starts empty
        ev("ADD_TO_CART", 2_000 + GAP + 1, product_id="b", price=1.0),
        ev("PURCHASE", 2_000 + GAP + 2),
    ]))
    abandoned, completed = out
    assert abandoned.status == ABANDONED
    assert abandoned.completion_time == 2_000 + GAP
    assert abandoned.viewed_products == ("v",)
    assert [i.product_id for i in completed.items] == ["b"]
    assert completed.viewed_products == ()


def test_an_event_exactly_at_the_gap_keeps_the_session_alive() -> None:
    out = baskets(run([
        ev("ADD_TO_CART", 0, product_id="a", price=2.0),
        ev("PAGE_VIEW", GAP),
        ev("PURCHASE", 2 * GAP),
    ]))
    assert [b.status for b in out] == [COMPLETED]


def test_empty_basket_is_not_abandoned_and_view_history_is_bounded() -> None:
    events = [ev("VIEW_PRODUCT", t, product_id=f"p{t}") for t in range(5)]
    assert baskets(run(events)) == []
    out = baskets(run([*events, ev("PURCHASE", 9, product_id="p1", price=1.0)],
                      BasketConfig(view_history=2)))
    assert out[0].viewed_products == ("p3", "p4")


def test_sessions_are_independent() -> None:
    out = baskets(run([
        ev("ADD_TO_CART", 1, "s1", product_id="a", price=1.0),
        ev("ADD_TO_CART", 2, "s2", product_id="b", price=1.0),
        ev("PURCHASE", 3, "s2"),
    ]))
    assert [(b.session_id, b.status, b.items[0].product_id) for b in out] == [
        ("s2", COMPLETED, "b"), ("s1", ABANDONED, "a")]


@pytest.mark.parametrize("kwargs", [{"session_gap_ms": 0}, {"view_history": -1}])
def test_bad_config_names_the_field(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        BasketConfig(**kwargs)


def test_tracker_and_abandonment_keep_the_same_cart_through_a_remove_without_quantity(
) -> None:
    """Both operators replay the cart through shopstream.operators.cart: same lines."""
    events = [
        ev("ADD_TO_CART", 1, product_id="tv", price=500.0, quantity=2),
        ev("ADD_TO_CART", 2, product_id="cable", price=10.0, quantity=3),
        ev("REMOVE_FROM_CART", 3, product_id="cable"),  # no quantity: the whole line
        ev("ADD_TO_CART", 4, product_id="mouse", price=20.0),
        ev("REMOVE_FROM_CART", 5, product_id="tv", quantity=1),
        ev("ADD_TO_CART", 6, product_id="cable", price=10.0),  # back after the remove
    ]
    [abandoned] = baskets(run(events))
    [alert] = [o.record for o in run_operator(CartAbandonmentDetector(), events,
                                              key_by=lambda e: e.session_id)]
    assert abandoned.items == alert.items == replay(events).sorted_lines()
    assert [(i.product_id, i.quantity) for i in abandoned.items] == [
        ("cable", 1), ("mouse", 1), ("tv", 1)]
    assert abandoned.total_value == alert.cart_value == 530.0


def replay(events: list[ShopperEvent]) -> Cart:
    cart = Cart()
    for event in events:
        cart.apply(event)
    return cart
