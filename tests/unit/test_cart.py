from __future__ import annotations

import pickle
from collections import Counter
from typing import Any

from helpers import ev
from hypothesis import given
from hypothesis import strategies as st

from shopstream.events import ShopperEvent
from shopstream.events.records import BasketLine
from shopstream.operators.cart import Cart, added_units


def replay(*events: ShopperEvent) -> Cart:
    cart = Cart()
    for event in events:
        cart.apply(event)
    return cart


def add(pid: str | None, qty: int | None = None, price: float | None = 1.0,
        **kw: Any) -> ShopperEvent:
    return ev("ADD_TO_CART", 0, product_id=pid, quantity=qty, price=price, **kw)


def remove(pid: str | None, qty: int | None = None) -> ShopperEvent:
    return ev("REMOVE_FROM_CART", 0, product_id=pid, quantity=qty)


def units(cart: Cart) -> dict[str, int]:
    return {line.product_id: line.quantity for line in cart.sorted_lines()}


def test_add_counts_the_quantity_or_one() -> None:
    cart = replay(add("a", 3), add("b"), add("c", 0), add("a", 2))
    assert units(cart) == {"a": 5, "b": 1, "c": 1}
    assert [added_units(add("x", q)) for q in (None, 0, 4)] == [1, 1, 4]


def test_a_remove_without_quantity_removes_the_whole_line() -> None:
    cart = replay(add("a", 5), add("b", 2), remove("a"))
    assert units(cart) == {"b": 2}
    assert "a" not in cart and cart.quantity("a") == 0


def test_a_remove_with_quantity_lowers_the_line_and_zero_units_drop_it() -> None:
    cart = replay(add("a", 5), remove("a", 2))
    assert units(cart) == {"a": 3}
    assert cart.apply(remove("a", 3))
    assert len(cart) == 0 and list(cart.products()) == []


def test_over_removal_drops_the_line_and_never_goes_negative() -> None:
    cart = replay(add("a", 2), add("b"), remove("a", 7))
    assert units(cart) == {"b": 1}


def test_removes_that_change_nothing_say_so() -> None:
    cart = replay(add("a", 2))
    assert not cart.apply(remove("zzz"))
    assert not cart.apply(remove("zzz", 1))
    assert not cart.apply(remove(None))
    assert not cart.apply(remove("a", 0))
    assert units(cart) == {"a": 2}


def test_re_add_after_remove_starts_a_fresh_line() -> None:
    cart = replay(add("a", 4, price=3.0, product_name="A"), remove("a"), add("a", price=2.0))
    # the old line is gone: neither its units nor its name are remembered
    assert cart.sorted_lines() == (BasketLine("a", None, None, 2.0, 1),)
    assert cart.value() == 2.0
    cart = replay(add("a", 4, price=3.0), remove("a", 4), add("a", 2, price=3.0))
    assert cart.quantity("a") == 2


def test_purchase_empties_the_cart_and_a_new_add_starts_again() -> None:
    cart = replay(add("a", 2), add("b"))
    assert cart.apply(ev("PURCHASE", 1, order_id="o1"))
    assert len(cart) == 0 and cart.value() == 0.0
    assert not cart.apply(ev("PURCHASE", 2))  # already empty
    cart.apply(add("c"))
    assert units(cart) == {"c": 1}


def test_the_line_keeps_the_latest_price_name_and_category() -> None:
    cart = replay(add("a", 1, price=10.0, product_name="A", category="x"),
                  add("a", 1, price=None), add("a", 1, price=8.0, category="y"))
    line = cart.lines["a"]
    assert (line.product_name, line.category, line.price, line.quantity) == ("A", "y", 8.0, 3)
    assert cart.value() == 24.0
    assert replay(add("b", price=None)).lines["b"].price == 0.0


def test_other_events_and_adds_without_product_change_nothing() -> None:
    cart = replay(add("a"))
    for event in (ev("VIEW_PRODUCT", 1, product_id="a"), ev("PAGE_VIEW", 2),
                  ev("ADD_TO_WISHLIST", 3, product_id="b"), add(None, 3)):
        assert not cart.apply(event)
    assert units(cart) == {"a": 1}


def test_queries() -> None:
    cart = replay(add("b", 2, price=1.25), add("a", price=10.0))
    assert set(cart.products()) == {"a", "b"} and "b" in cart and len(cart) == 2
    assert [line.product_id for line in cart.sorted_lines()] == ["a", "b"]
    assert (cart.quantity("b"), cart.quantity("nope"), cart.value()) == (2, 0, 12.5)


def test_a_cart_survives_a_pickle_round_trip_as_checkpoints_take_it() -> None:
    cart = replay(add("a", 2, price=1.5), add("b"))
    assert pickle.loads(pickle.dumps(cart)) == cart


_PRODUCTS = st.sampled_from(["a", "b", "c"])
_EVENTS = st.lists(st.one_of(
    st.builds(add, _PRODUCTS, st.none() | st.integers(0, 4)),
    st.builds(remove, _PRODUCTS, st.none() | st.integers(0, 6)),
    st.just(ev("PURCHASE", 0)),
    st.just(ev("VIEW_PRODUCT", 0, product_id="a")),
), max_size=30)


@given(_EVENTS)
def test_the_cart_equals_a_batch_count_of_units(events: list[ShopperEvent]) -> None:
    """Oracle: replay the events into plain unit counters, the rules written out again."""
    expected: Counter[str] = Counter()
    cart = Cart()
    for event in events:
        cart.apply(event)
        kind, pid, qty = event.event_type.value, event.product_id, event.quantity
        if kind == "PURCHASE":
            expected.clear()
        elif kind == "ADD_TO_CART" and pid is not None:
            expected[pid] += qty or 1
        elif kind == "REMOVE_FROM_CART" and pid is not None and pid in expected:
            expected[pid] = 0 if qty is None else max(0, expected[pid] - qty)
            if not expected[pid]:
                del expected[pid]
        assert units(cart) == dict(sorted(expected.items()))
        assert all(line.quantity > 0 for line in cart.lines.values())
