"""Best sellers over tumbling event-time windows of completed orders.

Consumes ``basket-completions`` under one constant key (a global operator). Product
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
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import msgspec

from shopstream.errors import ConfigError, require_positive
from shopstream.events import streams
from shopstream.events.insights import CategoryStat, ProductStat, RisingProduct, TopProducts
from shopstream.events.records import BasketCompletion
from shopstream.operators.windows import WindowFold
from shopstream.state import MapStateDescriptor, ValueStateDescriptor

__all__ = ["TopProductsConfig", "TopProductsOperator"]


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


class _Sold(msgspec.Struct, gc=False):
    """Running figures of one product or category in an open window."""

    name: str | None
    category: str | None
    quantity: int = 0
    revenue: float = 0.0
    orders: int = 0
    products: int = 0


class _Window(msgspec.Struct):
    orders: int = 0
    products: dict[str, _Sold] = msgspec.field(default_factory=dict)
    categories: dict[str | None, _Sold] = msgspec.field(default_factory=dict)


class _Closed(msgspec.Struct):
    """The last window emitted and how many orders each of its products was in."""

    end_ms: int
    orders: dict[str, int]


_OPEN = MapStateDescriptor[int, _Window]("open")
_CLOSED = ValueStateDescriptor[_Closed]("closed")


class TopProductsOperator(WindowFold[BasketCompletion, _Window, _Closed]):
    """Global: per window, the top products by quantity and by revenue, every category's
    figures, and the products whose order count is rising against the window before.

    Windows are emitted like ``revenue-stats`` (see
    :class:`shopstream.operators.windows.WindowFold`): in order, once the watermark passes
    their end, order-less ones with empty lists. Ties are broken by product id, so records
    are deterministic.
    """

    name = "top-products"
    stream = streams.TOP_PRODUCTS
    open_state = _OPEN
    closed_state = _CLOSED
    state_descriptors = (_OPEN, _CLOSED)

    def __init__(self, config: TopProductsConfig | None = None) -> None:
        self.config: TopProductsConfig = config or TopProductsConfig()

    def initialize(self) -> _Window:
        return _Window()

    def agg(self, acc: _Window, element: BasketCompletion) -> None:
        acc.orders += 1
        products = acc.products
        categories = acc.categories
        # An order counts once per product and per category, however many lines.
        seen_products: set[str] = set()
        seen_categories: set[str | None] = set()
        for line in element.items:
            pid = line.product_id
            sold = products.get(pid)
            if sold is None:
                sold = products[pid] = _Sold(line.product_name, line.category)
                cat = categories.get(line.category)
                if cat is None:
                    cat = categories[line.category] = _Sold(None, line.category)
                cat.products += 1
            elif sold.name is None:
                sold.name = line.product_name
            value = line.price * line.quantity
            sold.quantity += line.quantity
            sold.revenue += value
            cat = categories[sold.category]
            cat.quantity += line.quantity
            cat.revenue += value
            if pid not in seen_products:
                seen_products.add(pid)
                sold.orders += 1
            if sold.category not in seen_categories:
                seen_categories.add(sold.category)
                cat.orders += 1

    def result(self, start_ms: int, acc: _Window,
               closed: _Closed | None) -> tuple[TopProducts, _Closed]:
        # Rising is against the window just before, an empty one when it was skipped.
        before = closed.orders if closed is not None and closed.end_ms == start_ms else {}
        kept = _Closed(start_ms + self.config.window_ms,
                       {pid: s.orders for pid, s in acc.products.items()})
        return self._record(start_ms, acc, before), kept

    def _record(self, start: int, window: _Window, before: dict[str, int]) -> TopProducts:
        cfg = self.config
        stats = [ProductStat(pid, s.name, s.category, s.quantity, round(s.revenue, 2), s.orders)
                 for pid, s in window.products.items()]
        by_quantity = heapq.nsmallest(cfg.top_n, stats,
                                      key=lambda p: (-p.quantity, -p.revenue, p.product_id))
        by_revenue = heapq.nsmallest(cfg.top_n, stats,
                                     key=lambda p: (-p.revenue, -p.quantity, p.product_id))
        categories = heapq.nsmallest(
            cfg.max_categories,
            (CategoryStat(c, s.quantity, round(s.revenue, 2), s.orders, s.products)
             for c, s in window.categories.items()),
            key=lambda c: (-c.revenue, -c.quantity, c.category or ""))
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
