"""Properties of the insight operators in the default pipeline.

* revenue windows tile time from the first order's window to the last order's, and their
  revenues and order counts add up to the orders' values and number;
* any arrival order within the out-of-orderness bound gives exactly the outputs of the
  sorted stream (with traffic dense in valuable carts, bursts and repeated orders, so that
  abandonment, fraud, revenue and top-product records all occur).
"""

from __future__ import annotations

import itertools
import math
import random

from helpers import ev
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import Item, ShopperEvent, streams
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.harness import run_topology

BOUND = 5_000
WINDOW = 60_000
INSIGHTS = (streams.CART_ABANDONMENT, streams.FRAUD_ALERTS, streams.REVENUE_STATS,
            streams.TOP_PRODUCTS, streams.BASKET_COMPLETIONS)


@st.composite
def traffic(draw: st.DrawFn) -> list[ShopperEvent]:
    """A few shoppers adding, removing and buying, with distinct increasing timestamps."""
    count = draw(st.integers(1, 80))
    events = []
    ts = draw(st.integers(0, 10 * WINDOW))
    for i in range(count):
        ts += draw(st.sampled_from([1, 700, 9_000, 45_000, 130_000, 1_000_000]))
        user = f"u{draw(st.integers(0, 2))}"
        session = f"{user}-{draw(st.integers(0, 1))}"
        kind = draw(st.sampled_from(["VIEW_PRODUCT", "ADD_TO_CART", "ADD_TO_CART",
                                     "REMOVE_FROM_CART", "PURCHASE", "PURCHASE"]))
        product = f"p{draw(st.integers(0, 3))}"
        extra: dict[str, object] = {}
        if kind == "PURCHASE":
            choice = draw(st.integers(0, 2))
            if choice == 1:
                extra["items"] = (Item(product, price=40.0, quantity=2),)
            elif choice == 2:
                extra["cart_total"] = draw(st.sampled_from([12.5, 80.0, 1_200.0]))
        events.append(ev(kind, ts, session, user_id=user, product_id=product,
                         category=f"c{i % 2}", price=draw(st.sampled_from([5.0, 60.0, 150.0])),
                         quantity=draw(st.integers(1, 3)), order_id=f"o{i}", **extra))
        if draw(st.integers(0, 15)) == 0:   # a burst of orders: FREQUENT_ORDERS material
            for n in range(draw(st.integers(5, 8))):
                ts += 2_000
                events.append(ev("PURCHASE", ts, f"{user}-b{n}", user_id=user,
                                 order_id=f"o{i}-{n}", cart_total=10.0 + n))
    return events


@settings(max_examples=120, deadline=None)
@given(traffic())
def test_revenue_windows_tile_time_and_add_up_to_the_orders(events: list[ShopperEvent]) -> None:
    outputs = run_topology(default_topology(), events, BOUND)
    orders = [o.record for o in outputs if o.stream == streams.BASKET_COMPLETIONS]
    stats = [o.record for o in outputs if o.stream == streams.REVENUE_STATS]
    if not orders:
        assert stats == []
        return
    first = min(b.completion_time for b in orders) // WINDOW * WINDOW
    last = max(b.completion_time for b in orders) // WINDOW * WINDOW
    assert [s.window_start for s in stats] == list(range(first, last + 1, WINDOW))
    assert sum(s.order_count for s in stats) == len(orders)
    total = sum(b.total_value for b in orders)
    assert math.isclose(sum(s.revenue for s in stats), total, abs_tol=0.005 * len(stats))
    for before, after in itertools.pairwise(stats):
        assert after.revenue_change == round(after.revenue - before.revenue, 2)


@settings(max_examples=120, deadline=None)
@given(traffic(), st.randoms(use_true_random=False))
def test_shuffling_within_the_bound_changes_no_insight(events: list[ShopperEvent],
                                                      rnd: random.Random) -> None:
    config = PipelineConfig()
    expected = [(o.stream, o.record) for o in run_topology(default_topology(config), events,
                                                           BOUND) if o.stream in INSIGHTS]
    shuffled = sorted(events, key=lambda e: e.timestamp_ms + rnd.randint(0, BOUND))
    got = [(o.stream, o.record) for o in run_topology(default_topology(config), shuffled, BOUND)
           if o.stream in INSIGHTS]
    assert got == expected
