"""Trending products over sliding event-time windows, emitted every slide.

A global operator over ``events``: every product view, add to cart and purchased item
counts (weighted by kind) in a Space-Saving sketch per pane of ``slide_ms`` (see
:mod:`shopstream.recommend.trending`). At the end of every pane that has input in its
window, a :class:`~shopstream.events.recommendations.TrendingProducts` record goes to
``trending-products`` with each product's count, velocity and score; the recommendation
operator receives the stream as a broadcast. Once the window holds nothing, one empty
record says so and emission stops until new input arrives.

This is the one-phase form, on one key; the default pipeline runs trending in two phases
(:mod:`shopstream.operators.trending_partials`: per key group of products, then merged),
which emit the same records.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.recommend.trending import TrendingConfig
>>> from shopstream.runners.embedded.harness import run_operator
>>> op = TrendingOperator(TrendingConfig(window_ms=120_000, slide_ms=60_000))
>>> views = [ShopperEvent(EventType.VIEW_PRODUCT, t, "s", product_id=p)
...          for t, p in [(1_000, "a"), (2_000, "b"), (3_000, "b")]]
>>> for out in run_operator(op, views, key_by=lambda e: "all"):
...     r = out.record
...     print(r.window_end, [(p.product_id, p.count) for p in r.products])
60000 [('b', 0.5), ('a', 0.25)]
120000 [('b', 0.5), ('a', 0.25)]
180000 []
"""

from __future__ import annotations

from collections.abc import Iterable

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.recommendations import TrendingProducts
from shopstream.events.records import Output
from shopstream.recommend.trending import TrendingConfig, TrendTracker
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["TrendingOperator"]


_TREND = ValueStateDescriptor[TrendTracker]("trend")


class TrendingOperator(KeyedOperator[ShopperEvent]):
    """Global operator: ``trending-products`` every ``slide_ms`` of event time."""

    name = "trending"
    state_descriptors = (_TREND,)

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()
        self._weight = self.config.weights.by_kind().get

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        weight = self._weight(element.event_type, 0.0)
        if not weight:
            return ()
        ts = ctx.timestamp_ms
        state = ctx.state(_TREND)
        trend = state.value() or TrendTracker(self.config)
        # The pane's timer is registered by the event that opens the pane.
        timer = trend.opening_timer(ts)
        if element.items:
            for item in element.items:
                trend.add(item.product_id, weight * item.quantity, ts)
        elif element.product_id is not None:
            trend.add(element.product_id, weight * (element.quantity or 1), ts)
        else:
            return ()
        if timer is not None:
            ctx.register_event_timer(timer)
        state.update(trend)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_TREND)
        trend = state.value()
        if trend is None:
            return ()
        cfg = self.config
        end = timestamp_ms + 1
        products = tuple(trend.snapshot(timestamp_ms, cfg.top_n))
        if products:  # the next window may still hold input; an empty list ends the run
            ctx.register_event_timer(timestamp_ms + cfg.slide_ms)
        state.update(trend)
        return (Output(streams.TRENDING_PRODUCTS, ctx.key,
                       TrendingProducts(end - cfg.window_ms, end, products)),)
