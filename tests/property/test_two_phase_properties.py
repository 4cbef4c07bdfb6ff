"""Two-phase revenue and top products (issue #14): partials per key group, merged.

* the merge stage emits the same records for any arrival order of a window's partials
  (they all arrive at the window's last millisecond, in the order a parallel engine fires
  its key groups' timers);
* partials computed on any split of the orders into key groups, merged, give exactly the
  records of the one-phase operator on one key.

Money is drawn from amounts whose float sums depend on the order (0.1, 0.2, 0.7, 19.99,
1e-3...): only exact sums pass. A line's category is drawn per line, not per product (a
catalog change within a window, order lines carrying another category): a product whose
lines' categories differ between key groups is listed under its earliest line's, and
every order that had it counts in that category, as in one phase (orders at distinct
times: see :func:`orders`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import EventType, ShopperEvent, streams
from shopstream.events.records import BasketCompletion, BasketLine, Output
from shopstream.operators.revenue import (
    RevenueMergeOperator,
    RevenuePartialOperator,
    RevenueStatsOperator,
)
from shopstream.operators.top_products import (
    TopProductsMergeOperator,
    TopProductsOperator,
    TopProductsPartialOperator,
)
from shopstream.operators.windows import WindowPartial
from shopstream.runners.embedded.harness import run_topology
from shopstream.state import Context, KeyedOperator
from shopstream.topology import Stage, Topology

WINDOW = 60_000
PRICES = (0.1, 0.2, 0.7, 1e-3, 19.99, 3.3, 1_200.0)
NAMES = {"p0": "Tea", "p1": None, "p2": "Mug", "p3": "Kettle", "p4": None}
CATEGORIES = ("Food", "Home", "Gifts", None)


class Replay(KeyedOperator[ShopperEvent]):
    """Stands for an upstream stage: the event whose session is ``i`` emits the ``i``-th
    prepared record on ``stream`` at the event's time."""

    name = "replay"

    def __init__(self, stream: str, records: list[Any]) -> None:
        self.stream, self.records = stream, records

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        return (Output(self.stream, "k", self.records[int(element.session_id)]),)


@st.composite
def orders(draw: st.DrawFn) -> list[tuple[int, BasketCompletion]]:
    """Completed baskets over three windows, each with its key group (0-3).

    Completion times are distinct: at one millisecond a product's first line is the first
    to arrive in one phase, while the merge takes the smallest value of that millisecond
    (see :class:`TopProductsMergeOperator`), which may differ when lines' categories do.
    """
    out = []
    n = draw(st.integers(1, 25))
    times = draw(st.lists(st.integers(0, 3 * WINDOW - 1), min_size=n, max_size=n,
                          unique=True))
    for i, ts in enumerate(times):
        lines = tuple(BasketLine(p, NAMES[p], draw(st.sampled_from(CATEGORIES)),
                                 draw(st.sampled_from(PRICES)), draw(st.integers(1, 3)))
                      for p in draw(st.lists(st.sampled_from(sorted(NAMES)), max_size=3)))
        total = draw(st.sampled_from(PRICES))
        basket = BasketCompletion(f"s{i}", f"u{draw(st.integers(0, 4))}", "COMPLETED", lines,
                                  total, ts, order_id=f"o{i}")
        out.append((draw(st.integers(0, 3)), basket))
    return sorted(out, key=lambda gb: gb[1].completion_time)


def emitted(stages: tuple[Stage, ...], events: list[ShopperEvent], sink: str) -> list[Any]:
    return [o.record for o in run_topology(Topology(stages, sink_streams=(sink,)), events)]


def one_phase(operator: Any, baskets: list[tuple[int, BasketCompletion]]) -> list[Any]:
    events = [ShopperEvent(EventType.PAGE_VIEW, b.completion_time, str(i))
              for i, (_, b) in enumerate(baskets)]
    return emitted((
        Stage(Replay(streams.BASKET_COMPLETIONS, [b for _, b in baskets]), (streams.EVENTS,),
              lambda e: e.session_id),
        Stage(operator, (streams.BASKET_COMPLETIONS,), lambda b: "all"),
    ), events, operator.stream)


def partials(operator: Any,
             baskets: list[tuple[int, BasketCompletion]]) -> list[WindowPartial[Any]]:
    """Each key group's accumulator of each window, as the partial stage folds them."""
    accs: dict[tuple[int, int], Any] = {}
    for group, basket in baskets:
        start = basket.completion_time - basket.completion_time % WINDOW
        acc = accs.setdefault((start, group), operator.initialize())
        operator.agg(acc, basket)
    return [WindowPartial(start, acc) for (start, _), acc in sorted(accs.items(),
                                                                    key=lambda kv: kv[0])]


def merged(merge: Any, stream: str, parts: list[WindowPartial[Any]],
           order: list[int]) -> list[Any]:
    """The merge stage fed ``parts`` in ``order`` (each at its window's last ms)."""
    events = sorted((ShopperEvent(EventType.PAGE_VIEW, parts[i].start_ms + WINDOW - 1, str(i))
                     for i in order), key=lambda e: e.timestamp_ms)  # stable: keeps order
    return emitted((
        Stage(Replay(stream, parts), (streams.EVENTS,), lambda e: e.session_id),
        Stage(merge, (stream,), lambda p: "all", event_time_order=False),
    ), events, merge.stream)


CASES: list[tuple[Any, Any, Any, str]] = [
    (RevenueStatsOperator, RevenuePartialOperator, RevenueMergeOperator,
     streams.REVENUE_PARTIALS),
    (TopProductsOperator, TopProductsPartialOperator, TopProductsMergeOperator,
     streams.TOP_PRODUCTS_PARTIALS),
]


@settings(max_examples=150, deadline=None)
@given(orders(), st.randoms(use_true_random=False))
def test_merge_gives_the_one_phase_records_for_any_order_of_partials(
        baskets: list[tuple[int, BasketCompletion]], rnd: Any) -> None:
    for single, partial, merge, stream in CASES:
        expected = one_phase(single(), baskets)
        parts = partials(partial(), baskets)
        order = list(range(len(parts)))
        assert merged(merge(), stream, parts, order) == expected
        rnd.shuffle(order)
        assert merged(merge(), stream, parts, order) == expected


@settings(max_examples=60, deadline=None)
@given(orders())
def test_partial_and_merge_stages_equal_one_phase(
        baskets: list[tuple[int, BasketCompletion]]) -> None:
    """The two stages through the runner, key groups as drawn."""
    events = [ShopperEvent(EventType.PAGE_VIEW, b.completion_time, str(i))
              for i, (_, b) in enumerate(baskets)]
    groups = {b.session_id: f"g{g}" for g, b in baskets}
    for single, partial, merge, stream in CASES:
        got = emitted((
            Stage(Replay(streams.BASKET_COMPLETIONS, [b for _, b in baskets]),
                  (streams.EVENTS,), lambda e: e.session_id),
            Stage(partial(), (streams.BASKET_COMPLETIONS,), lambda b: groups[b.session_id]),
            Stage(merge(), (stream,), lambda p: "all", event_time_order=False),
        ), events, merge.stream)
        assert got == one_phase(single(), baskets)
