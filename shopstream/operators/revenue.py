"""Revenue statistics over tumbling event-time windows of completed orders.

A global statistic over ``basket-completions``, run in two phases in the default pipeline
(:class:`RevenuePartialOperator` per key group, then :class:`RevenueMergeOperator` on the
global key; see :mod:`shopstream.operators.windows`) or in one
(:class:`RevenueStatsOperator` on one key): both emit the same records. An order's
value is the basket's ``totalValue``: ``cartTotal`` when the purchase had one, else the sum
of price x quantity of its items, else of the session's cart.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.operators.baskets import BasketTracker
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> def buy(ts, user, total):
...     return ShopperEvent(EventType.PURCHASE, ts, f"s-{user}", user_id=user, cart_total=total)
>>> topology = Topology((
...     Stage(BasketTracker(), ("events",), key_by=lambda e: e.session_id),
...     Stage(RevenueStatsOperator(), ("basket-completions",), key_by=lambda b: "all"),
... ), sink_streams=("revenue-stats",))
>>> events = [buy(1_000, "u1", 10.0), buy(2_000, "u2", 30.0), buy(125_000, "u1", 5.0)]
>>> for out in run_topology(topology, events):
...     r = out.record
...     print(r.window_start, r.revenue, r.order_count, r.average_order_value,
...           r.unique_customers, r.revenue_change)
0 40.0 2 20.0 2 None
60000 0.0 0 0.0 0 -40.0
120000 5.0 1 5.0 1 5.0

The same in two phases, the orders spread over two key groups by user:

>>> two_phase = Topology((
...     Stage(BasketTracker(), ("events",), key_by=lambda e: e.session_id),
...     Stage(RevenuePartialOperator(), ("basket-completions",), key_by=lambda b: b.user_id),
...     Stage(RevenueMergeOperator(), ("revenue-partials",), key_by=lambda p: "all"),
... ), sink_streams=("revenue-stats",))
>>> run_topology(two_phase, events) == run_topology(topology, events)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import msgspec

from shopstream.errors import require_positive
from shopstream.events import streams
from shopstream.events.insights import RevenueStats
from shopstream.events.records import BasketCompletion
from shopstream.operators.exact_sum import add_exact, exact_value, merge_exact
from shopstream.operators.windows import MergedWindows, PartialWindows, WindowFold
from shopstream.state import MapStateDescriptor, StateDescriptor, ValueStateDescriptor

__all__ = ["RevenueConfig", "RevenueMergeOperator", "RevenuePartialOperator",
           "RevenueStatsOperator"]


@dataclass(frozen=True)
class RevenueConfig:
    """How revenue windows are cut.

    Parameters
    ----------
    window_ms
        Size of the tumbling windows (default 1 minute; 5 minutes and 1 hour are the
        other sizes the command line offers).
    max_empty_windows
        Longest run of order-less windows that is filled with zero records (default a
        week of minutes); a longer silence is skipped.
    """

    window_ms: int = 60_000
    max_empty_windows: int = 10_080

    def __post_init__(self) -> None:
        require_positive(self, "window_ms")
        require_positive(self, "max_empty_windows", allow_zero=True)


class _Sums(msgspec.Struct):
    """One open window (or one key group's share of it): revenue as an exact sum."""

    revenue: list[float] = msgspec.field(default_factory=list)
    orders: int = 0
    customers: set[str] = msgspec.field(default_factory=set)


def _Totals(revenue: float | list[float] = 0.0, orders: int = 0,
            customers: set[str] | None = None) -> _Sums:
    """Read an open window pickled under its former name (checkpoints and savepoints of
    shopstream before 3ad9098, or of 3ad9098 itself): the one-phase ``_Totals`` held the
    revenue as one float. That window becomes the merge's accumulator as if its orders
    had arrived as one partial (the exact sum of that float), closed by the same timer
    at its last millisecond.
    """
    customers = set() if customers is None else customers
    if isinstance(revenue, list):  # 3ad9098's shape, that of _Sums
        return _Sums(revenue, orders, customers)
    return _OnePhaseSums([revenue] if revenue else [], orders, customers)


class _OnePhaseSums(_Sums):
    """A window of a one-phase checkpoint until its partials have been waited for (see
    :meth:`~shopstream.operators.windows.MergedWindows.settled`)."""


class _Closed(msgspec.Struct, gc=False):
    """The last window emitted: where the next one starts and what it is compared with."""

    end_ms: int
    revenue: float


_OPEN = MapStateDescriptor[int, _Sums]("open")
_CLOSED = ValueStateDescriptor[_Closed]("closed")


class _RevenueFold:
    """The fold the one-phase operator and both phases of the two-phase one share."""

    config: RevenueConfig

    def __init__(self, config: RevenueConfig | None = None) -> None:
        self.config: RevenueConfig = config or RevenueConfig()

    def initialize(self) -> _Sums:
        return _Sums()

    def add_order(self, acc: _Sums, element: BasketCompletion) -> None:
        add_exact(acc.revenue, element.total_value)
        acc.orders += 1
        acc.customers.add(element.user_id)

    def combine(self, acc: _Sums, other: _Sums) -> None:
        merge_exact(acc.revenue, other.revenue)
        acc.orders += other.orders
        acc.customers |= other.customers

    def result(self, start_ms: int, acc: _Sums,
               closed: _Closed | None) -> tuple[RevenueStats, _Closed]:
        revenue = round(exact_value(acc.revenue), 2)
        previous = None if closed is None else closed.revenue
        stats = _stats(start_ms, self.config.window_ms, revenue, acc.orders,
                       len(acc.customers), previous)
        return stats, _Closed(start_ms + self.config.window_ms, revenue)


class _Orders(_RevenueFold):
    """The fold of orders: the one-phase operator's and the partials' (the merge folds
    partials)."""

    def agg(self, acc: _Sums, element: BasketCompletion) -> None:
        self.add_order(acc, element)


class _Stage:
    """What the one-phase operator and the merge both are: the stage ``revenue`` (so
    state, timers and metrics carry over from one to the other), its stream and state."""

    name = "revenue"
    stream = streams.REVENUE_STATS
    open_state = _OPEN
    closed_state = _CLOSED
    state_descriptors: ClassVar[tuple[StateDescriptor, ...]] = (_OPEN, _CLOSED)


class RevenueStatsOperator(_Stage, _Orders, WindowFold[BasketCompletion, _Sums, _Closed]):
    """Global: revenue, order count, average order value and unique customers per window.

    Every window from the first order's to the last order's is emitted once, in order,
    when the watermark passes its end; windows without orders carry zeros (see
    :class:`shopstream.operators.windows.WindowFold`). ``revenueChange`` compares with the
    window just before (an empty one counts as 0). Revenue is summed exactly
    (:mod:`shopstream.operators.exact_sum`), so it does not depend on the order of the
    orders. One phase, on one key: the default pipeline runs the same statistic in two
    (:class:`RevenuePartialOperator` then :class:`RevenueMergeOperator`). State: one
    accumulator per open window (its customers: at most one id per order) and the last
    window's revenue.
    """

    config: RevenueConfig


class RevenuePartialOperator(_Orders, PartialWindows[BasketCompletion, _Sums]):
    """Phase one of the revenue statistic, keyed by key group: each window's revenue
    (exact sum), order count and customer ids of the group's orders, sent on
    ``revenue-partials`` at the window's end (see
    :class:`~shopstream.operators.windows.PartialWindows`). State per key group: the
    accumulators of the windows the watermark has not passed, each holding at most one
    customer id per order of the group.
    """

    config: RevenueConfig

    name = "revenue-partials"
    stream = streams.REVENUE_PARTIALS
    open_state = _OPEN
    state_descriptors = (_OPEN,)


class RevenueMergeOperator(_Stage, _RevenueFold, MergedWindows[_Sums, _Closed]):
    """Phase two of the revenue statistic, on the global key: the partials of each window
    combined (exact sums added, customer sets united: the same for any arrival order) and
    emitted as :class:`RevenueStatsOperator` emits them, the same records at the same
    time. Its stage name is ``revenue``, the one-phase stage's, so state and metrics keep
    their name. State: the combined accumulator of each window whose partials are
    arriving (one at a time in practice) and the last window's revenue.
    """

    config: RevenueConfig

    def settled(self, acc: _Sums) -> _Sums | None:
        if type(acc) is not _OnePhaseSums:
            return None
        return _Sums(acc.revenue, acc.orders, acc.customers)


def _stats(start: int, size: int, revenue: float, orders: int, customers: int,
           previous: float | None) -> RevenueStats:
    change = None if previous is None else round(revenue - previous, 2)
    pct = round(100.0 * (revenue - previous) / previous, 2) if previous else None
    return RevenueStats(
        window_start=start,
        window_end=start + size,
        revenue=revenue,
        order_count=orders,
        average_order_value=round(revenue / orders, 2) if orders else 0.0,
        unique_customers=customers,
        revenue_change=change,
        revenue_change_pct=pct,
    )
