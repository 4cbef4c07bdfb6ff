"""Trends of products and categories: rising, falling, stable or volatile.

Three stages (see :func:`shopstream.pipeline.trend_stages`):

- :class:`TrendActivityOperator` (stateless, any key): every ``VIEW_PRODUCT``,
  ``ADD_TO_CART`` and ``PURCHASE`` becomes one :class:`~shopstream.events.trends.TrendActivity`
  per product on ``product-activity`` (a purchase with items: one per item, counting its
  quantity) and, when the event or item names a category, one on ``category-activity``.
  Other events are ignored.
- :class:`ProductTrendsOperator` keyed by product and :class:`CategoryTrendsOperator`
  keyed by category count the activity in an hourly ring
  (:class:`~shopstream.profiles.trends.ActivitySeries`) and emit an
  :class:`~shopstream.events.trends.EntityTrend` reading
  (:func:`~shopstream.profiles.trends.read_trend`) on ``product-trends`` /
  ``category-trends``.

Cadence and bounds: a reading at the end of each period of ``reading_every_buckets``
buckets (default 6 hours) that had activity, once the watermark passes it, and, while
the key has activity in its ring and enough data to judge, one at the end of each UTC
day; after ``quiet_days`` days without activity a last reading is emitted (if judged) and
the key's state is dropped (a key with too little data wakes only for that). Per
element O(1) (one dictionary update, one timer); per reading O(ring); state per key at
most the ring (``days * 24`` buckets of three counts). The output depends only on the
multiset of elements per bucket, so any arrival order within the watermark bound
gives the same readings.

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.profiles.trends import TrendsConfig
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> H = 3_600_000
>>> topology = Topology((
...     Stage(TrendActivityOperator(), ("events",), key_by=lambda e: e.session_id),
...     Stage(ProductTrendsOperator(TrendsConfig(min_days=0, min_events=0,
...                                              reading_every_buckets=1)),
...           ("product-activity",), key_by=by_trend_entity),
... ), sink_streams=("product-trends",))
>>> events = [ShopperEvent(EventType.VIEW_PRODUCT, 10, "s", product_id="tea"),
...           ShopperEvent(EventType.PURCHASE, H + 10, "s",
...                        items=(Item("tea", quantity=2), Item("mug")))]
>>> for out in run_topology(topology, events)[:3]:
...     r = out.record
...     print(out.key, r.window_end // H, r.label, r.views, r.purchases)
tea 1 stable 1 0
tea 2 stable 1 2
mug 2 stable 0 1
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import Output
from shopstream.events.trends import CATEGORY, PRODUCT, EntityTrend, TrendActivity
from shopstream.profiles.seasonality import DAY_MS
from shopstream.profiles.trends import (
    ADD,
    PURCHASE,
    VIEW,
    ActivitySeries,
    TrendsConfig,
    read_trend,
)
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["CategoryTrendsOperator", "ProductTrendsOperator", "TrendActivityOperator",
           "by_trend_entity"]

_KINDS = {EventType.VIEW_PRODUCT: VIEW, EventType.ADD_TO_CART: ADD,
          EventType.PURCHASE: PURCHASE}
_SERIES = ValueStateDescriptor[ActivitySeries]("series")


def by_trend_entity(activity: TrendActivity) -> str:
    """Key of the trend operators: the product or category."""
    return activity.entity_id


class TrendActivityOperator(KeyedOperator[ShopperEvent]):
    """Stateless: the products (and categories) an event is about, one record each.

    ``categories=False`` leaves ``category-activity`` empty.
    """

    name = "trend-activity"

    def __init__(self, categories: bool = True) -> None:
        self.categories = categories

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        kind = _KINDS.get(element.event_type)
        if kind is None:
            return ()
        if element.items:
            lines = [(i.product_id, i.category, i.quantity) for i in element.items]
        elif element.product_id:
            lines = [(element.product_id, element.category, element.quantity or 1)]
        else:
            return ()
        outs = []
        for product, category, quantity in lines:
            count = 1 if kind == VIEW else max(quantity, 1)
            outs.append(Output(streams.PRODUCT_ACTIVITY, product,
                               TrendActivity(product, category, kind, count)))
            if category and self.categories:
                outs.append(Output(streams.CATEGORY_ACTIVITY, category,
                                   TrendActivity(category, None, kind, count)))
        return outs


class _EntityTrends(KeyedOperator[TrendActivity]):
    """Counts one entity's activity; reads its trend as buckets close (see module)."""

    entity: ClassVar[str] = PRODUCT
    stream: ClassVar[str] = streams.PRODUCT_TRENDS
    state_descriptors = (_SERIES,)

    def __init__(self, config: TrendsConfig | None = None) -> None:
        self.config = config or TrendsConfig()

    def process_element(self, element: TrendActivity, ctx: Context) -> Iterable[Output]:
        cfg = self.config
        ts = ctx.timestamp_ms
        state = ctx.state(_SERIES)
        series = state.value() or ActivitySeries()
        series.add(element.kind, element.quantity, ts, cfg)
        period = cfg.bucket_ms * cfg.reading_every_buckets
        timer = ts - ts % period + period - 1
        if timer != series.period_timer:  # most elements: their period's timer is set
            ctx.register_event_timer(timer)
            series.period_timer = timer
        state.update(series)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SERIES)
        series = state.value()
        if series is None:
            return ()
        cfg = self.config
        series.period_timer = -1  # set again by the next element (a no-op if still set)
        end_ms = timestamp_ms + 1
        end_bucket = end_ms // cfg.bucket_ms - 1
        series.prune(end_bucket, cfg)
        reading = read_trend(series, end_bucket, cfg)
        if not series.buckets or \
                end_bucket - series.last_active >= cfg.quiet_days * cfg.buckets_per_day:
            state.clear()
        else:
            state.update(series)
            # Judged keys: a reading every day end. Others: only the day end at which
            # they fall quiet (new activity sets its own timers and readings).
            after = end_ms if reading.judged else \
                (series.last_active + 1) * cfg.bucket_ms + cfg.quiet_days * DAY_MS - 1
            ctx.register_event_timer((after // DAY_MS + 1) * DAY_MS - 1)
        if not reading.judged and not any(
                b in series.buckets
                for b in range(end_bucket - cfg.reading_every_buckets + 1, end_bucket + 1)):
            return ()  # a day-end reading of a key with too little data says nothing new
        return (Output(self.stream, ctx.key, EntityTrend.of(
            self.entity, ctx.key, end_ms - cfg.ring_buckets * cfg.bucket_ms, end_ms,
            reading)),)


class ProductTrendsOperator(_EntityTrends):
    """Keyed by product (:func:`by_trend_entity` on ``product-activity``):
    ``product-trends``."""

    name = "product-trends"


class CategoryTrendsOperator(_EntityTrends):
    """Keyed by category (:func:`by_trend_entity` on ``category-activity``):
    ``category-trends``."""

    name = "category-trends"
    entity = CATEGORY
    stream = streams.CATEGORY_TRENDS
