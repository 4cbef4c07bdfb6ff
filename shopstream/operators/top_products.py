"""Best sellers over tumbling event-time windows of completed orders.

A global statistic over ``basket-completions``, run in two phases in the default pipeline
(:class:`TopProductsPartialOperator` per key group, then :class:`TopProductsMergeOperator`
on the global key; see :mod:`shopstream.operators.windows`) or in one
(:class:`TopProductsOperator` on one key): both emit the same records. Product
figures come from the order lines: quantity, and revenue as price x quantity of the line
(an order's ``cartTotal`` may differ by discounts or shipping; it counts in
``revenue-stats``, not here).

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.operators.baskets import BasketTracker
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> def buy(ts, *items):
...     return ShopperEvent(EventType.PURCHASE, ts, f"s{ts}", items=items)
>>> tea, mug = Item("tea", "Tea", "Food", 4.0, 3), Item("mug", "Mug", "Home", 9.0, 1)
>>> topology = Topology((
...     Stage(BasketTracker(), ("events",), key_by=lambda e: e.session_id),
...     Stage(TopProductsOperator(), ("basket-completions",), key_by=lambda b: "all"),
... ), sink_streams=("top-products",))
>>> [top] = [o.record for o in run_topology(topology, [buy(1_000, tea, mug), buy(2_000, tea)])]
>>> [(p.product_id, p.quantity, p.revenue) for p in top.by_quantity]
[('tea', 6, 24.0), ('mug', 1, 9.0)]
>>> [(c.category, c.revenue, c.orders) for c in top.by_category]
[('Food', 24.0, 2), ('Home', 9.0, 1)]
>>> [(r.product_id, r.orders, r.previous_orders) for r in top.rising]
[('tea', 2, 0)]

The same in two phases, each order on its own key group:

>>> two_phase = Topology((
...     Stage(BasketTracker(), ("events",), key_by=lambda e: e.session_id),
...     Stage(TopProductsPartialOperator(), ("basket-completions",), key_by=lambda b: b.session_id),
...     Stage(TopProductsMergeOperator(), ("top-products-partials",), key_by=lambda p: "all"),
... ), sink_streams=("top-products",))
>>> [o.record for o in run_topology(two_phase, [buy(1_000, tea, mug), buy(2_000, tea)])] == [top]
True
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from shopstream.errors import ConfigError, require_positive
from shopstream.events import streams
from shopstream.events.insights import CategoryStat, ProductStat, RisingProduct, TopProducts
from shopstream.events.records import BasketCompletion
from shopstream.operators.exact_sum import add_exact, exact_value, merge_exact
from shopstream.operators.windows import MergedWindows, PartialWindows, WindowFold
from shopstream.state import MapStateDescriptor, StateDescriptor, ValueStateDescriptor

__all__ = ["TopProductsConfig", "TopProductsMergeOperator", "TopProductsOperator",
           "TopProductsPartialOperator"]


@dataclass(frozen=True)
class TopProductsConfig:
    """What a top-products record holds.

    Parameters
    ----------
    window_ms
        Size of the tumbling windows (default 1 minute).
    top_n
        Products listed by quantity, by revenue, and as rising (default 10).
    max_categories
        Categories listed, by revenue (default 20).
    rising_min_orders, rising_factor
        A product is *rising* when it is in at least ``rising_min_orders`` orders of the
        window and in at least ``rising_factor`` times as many as in the window just
        before (defaults 2 and 2.0); the biggest increases come first.
    max_empty_windows
        Longest run of order-less windows that is filled with empty records.
    """

    window_ms: int = 60_000
    top_n: int = 10
    max_categories: int = 20
    rising_min_orders: int = 2
    rising_factor: float = 2.0
    max_empty_windows: int = 10_080

    def __post_init__(self) -> None:
        require_positive(self, "window_ms", "top_n", "rising_min_orders")
        require_positive(self, "max_categories", "max_empty_windows", allow_zero=True)
        if not self.rising_factor > 1.0:
            msg = f"TopProductsConfig.rising_factor must be > 1, got {self.rising_factor!r}"
            raise ConfigError(msg)


class _ProductSums(msgspec.Struct, gc=False):
    """Running figures of one product in an open window (or a key group's share of it).

    ``name`` and ``category`` are those of the product's first line (the name of the
    first line that has one), at ``first_ms`` and ``named_ms``; a merge keeps the
    earliest (ties: the smallest value), so it does not depend on arrival order.
    """

    name: str | None
    category: str | None
    first_ms: int
    named_ms: int
    quantity: int = 0
    revenue: list[float] = msgspec.field(default_factory=list)  # an exact sum
    orders: int = 0


class _WindowSums(msgspec.Struct):
    """One open window: its orders, products, and orders per category (an order counts
    once per category of its products).

    The one-phase operator counts ``category_orders`` as orders come (a product's category
    is fixed by its first line). A key group's partial cannot: a product's category is its
    earliest line's over *all* groups, known only to the merge. The partial keeps instead,
    in ``baskets``, each order's distinct product ids (sorted) with how many of its orders
    had exactly that set, and the merge's record counts those orders per category once
    the categories are resolved. At most one entry per order of the window, holding at
    most its lines' product ids (identical sets share one entry).
    """

    orders: int = 0
    products: dict[str, _ProductSums] = msgspec.field(default_factory=dict)
    category_orders: dict[str | None, int] = msgspec.field(default_factory=dict)
    baskets: dict[tuple[str, ...], int] = msgspec.field(default_factory=dict)


# Checkpoints and savepoints written before 3ad9098 (one phase) or by it pickled the open
# windows as ``_Window`` and ``_Sold``; those names now read either shape.
_EARLIEST = -(1 << 62)


def _Sold(name: str | None, category: str | None,
          *figures: Any) -> _ProductSums:
    """A product's figures pickled under the former name. The one-phase shape is
    ``(name, category, quantity, revenue, orders, products)`` with revenue one float; its
    name and category came first in the old run, so they are stamped earliest and the
    merge keeps them, as the old operator would have."""
    if any(isinstance(f, list) for f in figures):  # 3ad9098's shape, this class's
        return _ProductSums(name, category, *figures)
    quantity, revenue, orders = [*figures, 0, 0.0, 0][:3]
    return _ProductSums(name, category, _EARLIEST, _EARLIEST, quantity,
                        [revenue] if revenue else [], orders)


def _Window(orders: int = 0, products: dict[str, _ProductSums] | None = None,
            categories: dict[str | None, Any] | None = None) -> _WindowSums:
    """An open window pickled under the former name: the one-phase shape kept each
    category's figures (read by :func:`_Sold`), of which the merge keeps the order count
    (its quantity and revenue are the sums over its products, recomputed at the end)."""
    category_orders = {c: v if isinstance(v, int) else v.orders
                       for c, v in (categories or {}).items()}
    # Also 3ad9098's windows (same fields) wait once more at their closing time: harmless.
    return _OnePhaseWindow(orders, products or {}, category_orders)


class _OnePhaseWindow(_WindowSums):
    """A window of a one-phase checkpoint until its partials have been waited for (see
    :meth:`~shopstream.operators.windows.MergedWindows.settled`)."""


class _Closed(msgspec.Struct):
    """The last window emitted and how many orders each of its products was in."""

    end_ms: int
    orders: dict[str, int]


_OPEN = MapStateDescriptor[int, _WindowSums]("open")
_CLOSED = ValueStateDescriptor[_Closed]("closed")


def _earlier(at_ms: int, value: str | None, than_ms: int, than: str | None) -> bool:
    """Whether ``value`` seen at ``at_ms`` came first (ties: the smaller value, ``None``
    first), so that a merge picks the same one in any order."""
    return (at_ms, value is not None, value or "") < (than_ms, than is not None, than or "")


class _TopProductsFold:
    """The fold the one-phase operator and both phases of the two-phase one share."""

    config: TopProductsConfig
    #: Whether orders wait in ``baskets`` for their categories (a partial's fold).
    defer_categories: ClassVar[bool] = False

    def __init__(self, config: TopProductsConfig | None = None) -> None:
        self.config: TopProductsConfig = config or TopProductsConfig()

    def initialize(self) -> _WindowSums:
        return _WindowSums()

    def add_order(self, acc: _WindowSums, element: BasketCompletion) -> None:
        acc.orders += 1
        products = acc.products
        ts = element.completion_time
        # An order counts once per product and per category, however many lines.
        seen_products: set[str] = set()
        seen_categories: set[str | None] = set()
        for line in element.items:
            pid = line.product_id
            sold = products.get(pid)
            if sold is None:
                sold = products[pid] = _ProductSums(line.product_name, line.category, ts, ts)
            elif sold.name is None and line.product_name is not None:
                sold.name, sold.named_ms = line.product_name, ts
            sold.quantity += line.quantity
            add_exact(sold.revenue, line.price * line.quantity)
            if pid not in seen_products:
                seen_products.add(pid)
                sold.orders += 1
            if not self.defer_categories and sold.category not in seen_categories:
                seen_categories.add(sold.category)
                acc.category_orders[sold.category] = (
                    acc.category_orders.get(sold.category, 0) + 1)
        if self.defer_categories and seen_products:
            basket = tuple(sorted(seen_products))
            acc.baskets[basket] = acc.baskets.get(basket, 0) + 1

    def combine(self, acc: _WindowSums, other: _WindowSums) -> None:
        acc.orders += other.orders
        for pid, theirs in other.products.items():
            sold = acc.products.get(pid)
            if sold is None:
                acc.products[pid] = _ProductSums(theirs.name, theirs.category, theirs.first_ms,
                                          theirs.named_ms, theirs.quantity,
                                          list(theirs.revenue), theirs.orders)
                continue
            if _earlier(theirs.first_ms, theirs.category, sold.first_ms, sold.category):
                sold.category, sold.first_ms = theirs.category, theirs.first_ms
            if theirs.name is not None and (sold.name is None or _earlier(
                    theirs.named_ms, theirs.name, sold.named_ms, sold.name)):
                sold.name, sold.named_ms = theirs.name, theirs.named_ms
            sold.quantity += theirs.quantity
            merge_exact(sold.revenue, theirs.revenue)
            sold.orders += theirs.orders
        for category, orders in other.category_orders.items():
            acc.category_orders[category] = acc.category_orders.get(category, 0) + orders
        for basket, orders in other.baskets.items():
            acc.baskets[basket] = acc.baskets.get(basket, 0) + orders

    def result(self, start_ms: int, acc: _WindowSums,
               closed: _Closed | None) -> tuple[TopProducts, _Closed]:
        # Rising is against the window just before, an empty one when it was skipped.
        before = closed.orders if closed is not None and closed.end_ms == start_ms else {}
        kept = _Closed(start_ms + self.config.window_ms,
                       {pid: s.orders for pid, s in acc.products.items()})
        return self._record(start_ms, acc, before), kept

    def _categories(self, window: _WindowSums) -> list[CategoryStat]:
        """Each category's figures: the sums over its products (a product counts in the
        category of its first line), and the orders that had one of them (those counted
        as they came, plus the partials' orders, counted now that each product's category
        is known)."""
        sums: dict[str | None, tuple[int, list[float], int]] = {}
        for sold in window.products.values():
            quantity, revenue, products = sums.get(sold.category, (0, [], 0))
            merge_exact(revenue, sold.revenue)
            sums[sold.category] = (quantity + sold.quantity, revenue, products + 1)
        category_orders = dict(window.category_orders)
        for basket, orders in window.baskets.items():
            for category in {window.products[pid].category for pid in basket}:
                category_orders[category] = category_orders.get(category, 0) + orders
        # A list, not a generator: nsmallest then sorts it at once when it is short.
        stats = [CategoryStat(c, q, round(exact_value(r), 2), category_orders.get(c, 0), n)
                 for c, (q, r, n) in sums.items()]
        return heapq.nsmallest(self.config.max_categories, stats,
                               key=lambda c: (-c.revenue, -c.quantity, c.category or ""))

    def _record(self, start: int, window: _WindowSums, before: dict[str, int]) -> TopProducts:
        cfg = self.config
        if not window.products:
            # Over half the windows of the simulator stream sold nothing: every list is
            # empty, built without the sorts below.
            return TopProducts(window_start=start, window_end=start + cfg.window_ms,
                               order_count=window.orders, by_quantity=(), by_revenue=(),
                               by_category=(), rising=())
        stats = [ProductStat(pid, s.name, s.category, s.quantity,
                             round(exact_value(s.revenue), 2), s.orders)
                 for pid, s in window.products.items()]
        by_quantity = heapq.nsmallest(cfg.top_n, stats,
                                      key=lambda p: (-p.quantity, -p.revenue, p.product_id))
        by_revenue = heapq.nsmallest(cfg.top_n, stats,
                                     key=lambda p: (-p.revenue, -p.quantity, p.product_id))
        categories = self._categories(window)
        rising = [p for p in stats if p.orders >= cfg.rising_min_orders
                  and p.orders >= cfg.rising_factor * before.get(p.product_id, 0)]
        top_rising = heapq.nsmallest(
            cfg.top_n, rising,
            key=lambda p: (before.get(p.product_id, 0) - p.orders, -p.orders, p.product_id))
        return TopProducts(
            window_start=start,
            window_end=start + cfg.window_ms,
            order_count=window.orders,
            by_quantity=tuple(by_quantity),
            by_revenue=tuple(by_revenue),
            by_category=tuple(categories),
            rising=tuple(RisingProduct(p.product_id, p.product_name, p.orders,
                                       before.get(p.product_id, 0)) for p in top_rising),
        )


class _Orders(_TopProductsFold):
    """The fold of orders: the one-phase operator's and the partials' (the merge folds
    partials)."""

    def agg(self, acc: _WindowSums, element: BasketCompletion) -> None:
        self.add_order(acc, element)


class _Stage:
    """What the one-phase operator and the merge both are: the stage ``top-products`` (so
    state, timers and metrics carry over from one to the other), its stream and state."""

    name = "top-products"
    stream = streams.TOP_PRODUCTS
    open_state = _OPEN
    closed_state = _CLOSED
    state_descriptors: ClassVar[tuple[StateDescriptor, ...]] = (_OPEN, _CLOSED)


class TopProductsOperator(_Stage, _Orders, WindowFold[BasketCompletion, _WindowSums, _Closed]):
    """Global: per window, the top products by quantity and by revenue, every category's
    figures, and the products whose order count is rising against the window before.

    Windows are emitted like ``revenue-stats`` (see
    :class:`shopstream.operators.windows.WindowFold`): in order, once the watermark passes
    their end, order-less ones with empty lists. Ties are broken by product id, so records
    are deterministic; revenues are exact sums. One phase, on one key: the default
    pipeline runs the same statistic in two (:class:`TopProductsPartialOperator` then
    :class:`TopProductsMergeOperator`). State: per open window one entry per product
    and category sold in it; the last window's order count per product.
    """

    config: TopProductsConfig


class TopProductsPartialOperator(_Orders, PartialWindows[BasketCompletion, _WindowSums]):
    """Phase one of the top-products statistic, keyed by key group: each window's figures
    of the group's orders per product, and each order's distinct products (the merge
    counts orders per category once it knows every product's category), sent on
    ``top-products-partials`` at the window's end (see
    :class:`~shopstream.operators.windows.PartialWindows`). State per key group: the
    windows the watermark has not passed, one entry per product the group sold in each
    and one per distinct set of products an order had (at most one per order, holding at
    most its lines' product ids).
    """

    config: TopProductsConfig
    defer_categories = True

    name = "top-products-partials"
    stream = streams.TOP_PRODUCTS_PARTIALS
    open_state = _OPEN
    state_descriptors = (_OPEN,)


class TopProductsMergeOperator(_Stage, _TopProductsFold, MergedWindows[_WindowSums, _Closed]):
    """Phase two of the top-products statistic, on the global key: the partials of each
    window combined (sums added; a product's name and category are its earliest line's,
    ties to the smallest value: the same for any arrival order) and emitted as
    :class:`TopProductsOperator` emits them. Stage name ``top-products``, the one-phase
    stage's. State: per window whose partials are arriving, one entry per product sold
    in it and per distinct set of products an order had; the last window's order count
    per product.

    A product whose lines of one window carry different categories in different key
    groups (a catalog change within the window) is listed under its earliest category,
    and every order that had it counts in that category, as in one phase: the partials
    carry each order's products, and the record counts orders per category from them.
    Lines of one millisecond are the exception: one phase keeps the first to arrive, the
    merge the smallest value (within a key group, its first), so a product whose lines of
    that millisecond differ may be listed under another category or name.
    """

    config: TopProductsConfig

    def settled(self, acc: _WindowSums) -> _WindowSums | None:
        if type(acc) is not _OnePhaseWindow:
            return None
        return _WindowSums(acc.orders, acc.products, acc.category_orders, acc.baskets)
