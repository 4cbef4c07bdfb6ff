"""Trending in two phases: per key group of products, then merged on the global key.

The contract's "global work is two-phase" for
:class:`~shopstream.operators.trending.TrendingOperator`, with the same records at the same
event times (see :func:`shopstream.pipeline.recommendation_stages`):

- :class:`TrendingActivityOperator` (stateless, any key): each product an event counts
  for becomes one :class:`TrendAction` on ``trending-activity`` (its kind's weight times
  its quantity), to be keyed by the product's key group;
- :class:`TrendingPartialOperator`, keyed by product group: a
  :class:`~shopstream.recommend.trending.TrendTracker` of its products, with the one-phase
  operator's timers (the end of each pane that had input, then every ``slide_ms`` while its
  window holds something). At each timer it sends its ``top_n`` best products (ranking
  key and totals) as a :class:`TrendingPartial` on ``trending-partials`` (an empty one when
  its window is empty: its last);
- :class:`TrendingMergeOperator`, on the global key (stage and uid ``trending``, the
  one-phase stage's): the partials of one time, merged to the ``top_n`` best and emitted
  as the ``trending-products`` record of that time on its own timer, which fires after the
  partials' (they register theirs before it registers its own; a runner passes the
  watermark on only after the partials' timers ran).

Why the same records: a product's actions all go to one key group, so its count, score,
velocity and ranking key are its group's alone; the best ``top_n`` of the union of every
group's best ``top_n`` are the best ``top_n`` overall, ties by product id as one phase
(:meth:`~shopstream.recommend.trending.TrendTracker.candidates`: keys comparable across
trackers, exactly). The merge emits at a time when a group has a timer then, which is when
the one-phase operator has one: the end of a pane with input anywhere, or a slide after a
time some group's window (so the whole window) held something. Caveat: a group's
Space-Saving sketch holds ``capacity`` products per pane of its own, so while no pane has
more than ``capacity`` distinct products (the sketch is then an exact count) the records
equal one phase's; beyond that each group's counts are at least as exact as one sketch's.

Cost: per action one tracker update (``O(log capacity)``); per group and slide one pass
over its products and one partial of at most ``top_n`` rows (records are made only of the
merged ``top_n``); the merge keeps the non-empty partials of each time whose partials are
arriving (one time in practice, at most ``groups x top_n`` rows) and sorts them once, at
that time's timer. State: per group ``panes x capacity`` counters; the merge, those
partials.

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.operators.trending import TrendingOperator
>>> from shopstream.recommend.trending import TrendingConfig
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> cfg = TrendingConfig(window_ms=120_000, slide_ms=60_000, top_n=2)
>>> two_phase = Topology((
...     Stage(TrendingActivityOperator(cfg), ("events",), key_by=lambda e: e.session_id),
...     Stage(TrendingPartialOperator(cfg), ("trending-activity",),
...           key_by=lambda a: a.product_id),
...     Stage(TrendingMergeOperator(cfg), ("trending-partials",), key_by=lambda p: "all",
...           event_time_order=False),
... ), sink_streams=("trending-products",))
>>> events = [ShopperEvent(EventType.VIEW_PRODUCT, 1_000, "s", product_id="a"),
...           ShopperEvent(EventType.PURCHASE, 2_000, "s",
...                        items=(Item("b", quantity=2), Item("c"))),
...           ShopperEvent(EventType.ADD_TO_CART, 70_000, "t", product_id="c")]
>>> for out in run_topology(two_phase, events):
...     r = out.record
...     print(r.window_end, [(p.product_id, p.count) for p in r.products])
60000 [('b', 2.0), ('c', 1.0)]
120000 [('c', 2.0), ('b', 2.0)]
180000 [('c', 1.0)]
240000 []
>>> one_phase = Topology((Stage(TrendingOperator(cfg), ("events",), key_by=lambda e: "all"),),
...                      sink_streams=("trending-products",))
>>> run_topology(two_phase, events) == run_topology(one_phase, events)
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.recommendations import TrendingProducts
from shopstream.events.records import Output
from shopstream.recommend.trending import (
    Candidate,
    TrendingConfig,
    TrendTracker,
    trending_products,
)
from shopstream.state import Context, KeyedOperator, MapStateDescriptor, ValueStateDescriptor

__all__ = ["TrendAction", "TrendingActivityOperator", "TrendingMergeOperator",
           "TrendingPartial", "TrendingPartialOperator"]


@dataclass(frozen=True, slots=True)
class TrendAction:
    """One product's share of an event: ``weight`` is its kind's weight times its
    quantity (what the one-phase operator adds for it).

    Examples
    --------
    >>> TrendAction("p1", 0.5)
    TrendAction(product_id='p1', weight=0.5)
    """

    product_id: str
    weight: float


@dataclass(frozen=True, slots=True)
class TrendingPartial:
    """One key group's best products at a slide's end (the partial's event time), best
    first, as :data:`~shopstream.recommend.trending.Candidate` rows: ranking key (sorts
    across groups; equal keys by product id, unique: a product is in one group) and the
    totals its record is made of.

    Examples
    --------
    >>> tracker = TrendTracker(TrendingConfig(window_ms=120_000, slide_ms=60_000))
    >>> tracker.add("p1", 1.0, 1_000)
    >>> partial = TrendingPartial(tuple(tracker.candidates(59_999, 5)))
    >>> [row[1] for row in partial.rows], trending_products(tracker.config, list(partial.rows))
    (['p1'], [TrendingProduct(product_id='p1', count=1.0, velocity=1.0, score=1.0)])
    """

    rows: tuple[Candidate, ...]

_TREND = ValueStateDescriptor[TrendTracker]("trend")
_PENDING = MapStateDescriptor[int, list["TrendingPartial"]]("pending")


class TrendingActivityOperator(KeyedOperator[ShopperEvent]):
    """Stateless: one :class:`TrendAction` per product of an event that trending counts
    (``VIEW_PRODUCT``, ``ADD_TO_CART``, ``PURCHASE`` with a weight; a purchase with items:
    one per item), on ``trending-activity``. Cost: one record per product of the event.

    Examples
    --------
    >>> from shopstream.events import EventType, Item
    >>> from shopstream.runners.embedded.harness import run_operator
    >>> buy = ShopperEvent(EventType.PURCHASE, 1_000, "s", items=(Item("a", quantity=2),
    ...                                                          Item("b")))
    >>> [o.record for o in run_operator(TrendingActivityOperator(), [buy],
    ...                                 key_by=lambda e: e.session_id,
    ...                                 sink_streams=("trending-activity",))]
    [TrendAction(product_id='a', weight=2.0), TrendAction(product_id='b', weight=1.0)]
    """

    name = "trending-activity"

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()
        self._weight = self.config.weights.by_kind().get

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        weight = self._weight(element.event_type, 0.0)
        if not weight:
            return ()
        if element.items:
            return [Output(streams.TRENDING_ACTIVITY, item.product_id,
                           TrendAction(item.product_id, weight * item.quantity))
                    for item in element.items]
        product = element.product_id
        if product is None:
            return ()
        return (Output(streams.TRENDING_ACTIVITY, product,
                       TrendAction(product, weight * (element.quantity or 1))),)


class TrendingPartialOperator(KeyedOperator[TrendAction]):
    """Phase one of trending, keyed by product group: the group's tracker, and at each of
    the one-phase operator's emission times its ``top_n`` candidates on
    ``trending-partials`` (see the module). State per group: one tracker of at most
    ``panes x capacity`` counters.

    Examples
    --------
    One group's partials: at the end of the pane with input, a slide later, then an empty
    one (its window is empty: its last).

    >>> from shopstream.events import EventType
    >>> from shopstream.runners.embedded.harness import run_topology
    >>> from shopstream.topology import Stage, Topology
    >>> cfg = TrendingConfig(window_ms=120_000, slide_ms=60_000)
    >>> group = Topology((
    ...     Stage(TrendingActivityOperator(cfg), ("events",), key_by=lambda e: e.session_id),
    ...     Stage(TrendingPartialOperator(cfg), ("trending-activity",), key_by=lambda a: "g0"),
    ... ), sink_streams=("trending-partials",))
    >>> views = [ShopperEvent(EventType.VIEW_PRODUCT, 1_000, "s", product_id="a")]
    >>> [(o.key, [row[1] for row in o.record.rows]) for o in run_topology(group, views)]
    [('g0', ['a']), ('g0', ['a']), ('g0', [])]
    """

    name = "trending-partials"
    state_descriptors = (_TREND,)

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()
        self._slide = self.config.slide_ms

    def process_element(self, element: TrendAction, ctx: Context) -> Iterable[Output]:
        ts = ctx.timestamp_ms
        state = ctx.state(_TREND)
        trend = state.value() or TrendTracker(self.config)
        # As one phase: the input that opened the pane registers its timer (an action
        # that counts nothing too, as one phase's event does).
        timer = trend.opening_timer(ts)
        trend.add(element.product_id, element.weight, ts)
        if timer is not None:
            ctx.register_event_timer(timer)
        state.update(trend)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_TREND)
        trend = state.value()
        if trend is None:
            return ()
        rows = trend.candidates(timestamp_ms, self.config.top_n)
        if rows:  # the next window may still hold input; an empty partial is the last
            ctx.register_event_timer(timestamp_ms + self._slide)
        state.update(trend)
        return (Output(streams.TRENDING_PARTIALS, ctx.key, TrendingPartial(tuple(rows))),)


class TrendingMergeOperator(KeyedOperator[TrendingPartial]):
    """Phase two of trending, on the global key: the partials of one time merged into
    the ``trending-products`` record :class:`~shopstream.operators.trending.TrendingOperator`
    emits then. Its stage name (and uid) is ``trending``, the one-phase stage's. State: the
    non-empty partials of each time whose partials are arriving (one time in practice): at
    most ``groups x top_n`` products.

    Examples
    --------
    Two groups' best products merged, best first across the groups (the module's example
    runs the three stages against the one-phase operator):

    >>> from shopstream.events import EventType
    >>> from shopstream.runners.embedded.harness import run_topology
    >>> from shopstream.topology import Stage, Topology
    >>> cfg = TrendingConfig(window_ms=60_000, slide_ms=60_000)
    >>> stages = Topology((
    ...     Stage(TrendingActivityOperator(cfg), ("events",), key_by=lambda e: e.session_id),
    ...     Stage(TrendingPartialOperator(cfg), ("trending-activity",),
    ...           key_by=lambda a: a.product_id),
    ...     Stage(TrendingMergeOperator(cfg), ("trending-partials",), key_by=lambda p: "all",
    ...           event_time_order=False),
    ... ), sink_streams=("trending-products",))
    >>> carts = [ShopperEvent(EventType.ADD_TO_CART, 1_000, "s", product_id="a"),
    ...          ShopperEvent(EventType.ADD_TO_CART, 2_000, "t", product_id="b", quantity=2)]
    >>> [(p.product_id, p.count) for p in run_topology(stages, carts)[0].record.products]
    [('b', 2.0), ('a', 1.0)]
    """

    name = "trending"
    state_descriptors = (_PENDING,)

    def __init__(self, config: TrendingConfig | None = None) -> None:
        self.config = config or TrendingConfig()

    def process_element(self, element: TrendingPartial, ctx: Context) -> Iterable[Output]:
        ts = ctx.timestamp_ms
        pending = ctx.state(_PENDING)
        partials = pending.get(ts)
        if partials is None:
            partials = []
            ctx.register_event_timer(ts)
        if element.rows:
            partials.append(element)
        pending.put(ts, partials)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        pending = ctx.state(_PENDING)
        partials = pending.get(timestamp_ms)
        if partials is None:
            return ()
        pending.remove(timestamp_ms)
        if len(partials) == 1:  # one group holds every product: its list is the list
            best = list(partials[0].rows)
        else:
            best = sorted([row for partial in partials for row in partial.rows])
            del best[self.config.top_n:]
        end = timestamp_ms + 1
        products = tuple(trending_products(self.config, best))
        return (Output(streams.TRENDING_PRODUCTS, ctx.key,
                       TrendingProducts(end - self.config.window_ms, end, products)),)
