from __future__ import annotations

from typing import Any

import pytest
from orders import buy, on_orders

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.insights import TopProducts
from shopstream.events.records import BasketCompletion, BasketLine
from shopstream.operators.top_products import (
    TopProductsConfig,
    TopProductsMergeOperator,
    TopProductsOperator,
    TopProductsPartialOperator,
)
from shopstream.pipeline import global_key

MIN = 60_000


def tops(events: list[Any], config: TopProductsConfig | None = None) -> list[TopProducts]:
    outs = on_orders(TopProductsOperator(config), global_key, events)
    assert all(o.stream == streams.TOP_PRODUCTS for o in outs)
    return [o.record for o in outs]


def test_top_by_quantity_and_revenue_with_ties_by_product_id() -> None:
    [top] = tops([
        buy(0, items=[("apple", 1.0, 5), ("tv", 300.0, 1)]),
        buy(1, items=[("apple", 1.0, 1), ("banana", 0.5, 6), ("tv", 300.0, 1)]),
    ])
    assert top.order_count == 2
    assert [(p.product_id, p.quantity, p.revenue, p.orders) for p in top.by_quantity] == [
        ("apple", 6, 6.0, 2), ("banana", 6, 3.0, 1), ("tv", 2, 600.0, 2)]
    assert [p.product_id for p in top.by_revenue] == ["tv", "apple", "banana"]
    assert top.by_quantity[0].product_name == "name-apple"
    [two] = tops([buy(0, items=[("a", 1.0, 1), ("b", 1.0, 1), ("c", 1.0, 1)])],
                 TopProductsConfig(top_n=2))
    assert [p.product_id for p in two.by_quantity] == ["a", "b"]


def test_category_performance_counts_an_order_once_per_category() -> None:
    [top] = tops([buy(0, items=[("a1", 2.0, 1), ("a2", 3.0, 2)]),
                  buy(1, items=[("b1", 10.0, 1)])])
    assert [(c.category, c.quantity, c.revenue, c.orders, c.products)
            for c in top.by_category] == [("cat-b", 1, 10.0, 1, 1), ("cat-a", 3, 8.0, 1, 2)]


def test_two_phase_counts_orders_in_a_products_earliest_category() -> None:
    """A product's lines carry "Office" in one key group, "Gifts" (later) in another: it is
    listed under "Office" and both its orders count there, in one phase and in two."""
    def order(session: str, ts: int, *lines: tuple[str, str]) -> BasketCompletion:
        return BasketCompletion(session, "u", "COMPLETED", tuple(
            BasketLine(pid, pid, category, 2.0, 1) for pid, category in lines), 2.0, ts)
    first = order("s1", 1_000, ("pen", "Office"))
    later = order("s2", 2_000, ("pen", "Gifts"), ("card", "Gifts"))
    one = TopProductsOperator()
    acc = one.initialize()
    one.add_order(acc, first)
    one.add_order(acc, later)
    expected, _ = one.result(0, acc, None)
    assert [(c.category, c.quantity, c.orders, c.products) for c in expected.by_category] == [
        ("Office", 2, 2, 1), ("Gifts", 1, 1, 1)]
    partial, merge = TopProductsPartialOperator(), TopProductsMergeOperator()
    for groups in ([first], [later]), ([later], [first]):
        merged = merge.initialize()
        for group in groups:
            part = partial.initialize()
            for basket in group:
                partial.add_order(part, basket)
            merge.combine(merged, part)
        got, _ = merge.result(0, merged, None)
        assert got == expected


def test_rising_compares_order_counts_with_the_window_before() -> None:
    first = [buy(i, items=[("steady", 1.0, 1), ("hot", 1.0, 1)] if i < 1 else
                 [("steady", 1.0, 1)]) for i in range(3)]
    second = [buy(MIN + i, items=[("steady", 1.0, 1), ("hot", 1.0, 1)]) for i in range(4)]
    one, two = tops([*first, *second])
    assert [(r.product_id, r.orders, r.previous_orders) for r in one.rising] == [("steady", 3, 0)]
    # hot: 1 -> 4 orders (x4) is rising; steady: 3 -> 4 is not (needs x2)
    assert [(r.product_id, r.orders, r.previous_orders) for r in two.rising] == [("hot", 4, 1)]


def test_empty_windows_between_orders_and_rising_after_a_gap() -> None:
    out = tops([buy(0, items=[("x", 1.0, 1)]), buy(1, items=[("x", 1.0, 1)]),
                buy(2 * MIN, items=[("x", 1.0, 1)]), buy(2 * MIN + 1, items=[("x", 1.0, 1)])])
    assert [(t.window_start, t.order_count, len(t.by_quantity)) for t in out] == [
        (0, 2, 1), (MIN, 0, 0), (2 * MIN, 2, 1)]
    assert [r.previous_orders for r in out[2].rising] == [0]


def test_orders_without_items_count_but_list_nothing() -> None:
    [top] = tops([buy(0, total=5.0)])
    assert (top.order_count, top.by_quantity, top.by_category) == (1, (), ())


@pytest.mark.parametrize("kwargs", [{"window_ms": 0}, {"top_n": 0}, {"max_categories": -1},
                                    {"rising_min_orders": 0}, {"rising_factor": 1.0}])
def test_bad_config_names_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        TopProductsConfig(**kwargs)
