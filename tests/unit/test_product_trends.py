"""The trend operators: fan-out, cadence, state bounds, store entries and answers."""

from __future__ import annotations

import math
import tempfile

import numpy as np
from helpers import ev

from shopstream.api.trends_routes import trend_answer
from shopstream.events import EventType, Item, ShopperEvent, streams
from shopstream.events.records import Output
from shopstream.events.trends import EntityTrend, TrendActivity
from shopstream.operators.product_trends import (
    CategoryTrendsOperator,
    ProductTrendsOperator,
    TrendActivityOperator,
)
from shopstream.pipeline import PipelineConfig, default_topology, trend_stages
from shopstream.profiles.seasonality import DAY_MS, HOUR_MS
from shopstream.profiles.trends import TrendsConfig
from shopstream.runners.embedded.harness import run_topology
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.keys import trend_key
from shopstream.stores.tap import StoreTap
from shopstream.topology import Topology

T0 = 1_700_006_400_000  # a Wednesday, 00:00 UTC
TRENDS = (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS)


def _run(events: list[ShopperEvent], config: TrendsConfig | None = None,
         bound: int = 5_000) -> list[Output]:
    topology = Topology(trend_stages(config or TrendsConfig()), sink_streams=TRENDS)
    return run_topology(topology, events, bound)


def test_fan_out_per_product_and_category() -> None:
    op = TrendActivityOperator()
    buy = ShopperEvent(EventType.PURCHASE, 5, "s", items=(
        Item("tea", category="Food", quantity=3), Item("mug", quantity=1)))
    outs = list(op.process_element(buy, None))  # type: ignore[arg-type]
    assert [(o.stream, o.key, o.record) for o in outs] == [
        (streams.PRODUCT_ACTIVITY, "tea", TrendActivity("tea", "Food", 2, 3)),
        (streams.CATEGORY_ACTIVITY, "Food", TrendActivity("Food", None, 2, 3)),
        (streams.PRODUCT_ACTIVITY, "mug", TrendActivity("mug", None, 2, 1)),
    ]
    view = ShopperEvent(EventType.VIEW_PRODUCT, 5, "s", product_id="tea", quantity=4)
    assert [o.record.quantity for o in op.process_element(view, None)] == [1]  # type: ignore[arg-type]
    for ignored in (ShopperEvent(EventType.SEARCH, 5, "s", search_query="tea"),
                    ShopperEvent(EventType.PURCHASE, 5, "s", cart_total=3.0),
                    ShopperEvent(EventType.REMOVE_FROM_CART, 5, "s", product_id="tea")):
        assert list(op.process_element(ignored, None)) == []  # type: ignore[arg-type]
    assert len(list(TrendActivityOperator(categories=False).process_element(
        buy, None))) == 2  # type: ignore[arg-type]


def test_a_reading_per_closed_active_bucket_and_per_day_then_state_is_dropped() -> None:
    events = [ev("VIEW_PRODUCT", T0 + h * HOUR_MS + 60_000, product_id="p", category="c")
              for h in (0, 1, 5, 49)]
    outs = _run(events, TrendsConfig(quiet_days=2, min_days=0, min_events=0,
                                     reading_every_buckets=1))
    product = [o.record for o in outs if o.stream == streams.PRODUCT_TRENDS]
    ends = [(r.window_end - T0) // HOUR_MS for r in product]
    # Buckets 0, 1, 5 and 49 close; day ends while the key is tracked, once it has the 3
    # days a line needs (72, 96); at the first day end 2 days (48 buckets) after the last
    # activity, the last reading goes out and the state goes.
    assert ends == [1, 2, 6, 50, 72, 96, 120]
    assert all(isinstance(r, EntityTrend) and r.entity == "product" for r in product)
    assert [r.views for r in product] == [1, 2, 3, 4, 4, 4, 4]
    assert product[0].window_start == product[0].window_end - 28 * DAY_MS
    category = [o.record for o in outs if o.stream == streams.CATEGORY_TRENDS]
    assert [r.entity_id for r in category] == ["c"] * 7 and category[-1].entity == "category"
    # With too little data to judge (the default minimums), no day-end readings.
    unjudged = [o.record for o in _run(events, TrendsConfig(quiet_days=2,
                                                            reading_every_buckets=1))
                if o.stream == streams.PRODUCT_TRENDS]
    assert [(r.window_end - T0) // HOUR_MS for r in unjudged] == [1, 2, 6, 50]
    # By default, one reading per 6-hour period with activity.
    default = [o.record for o in _run(events, TrendsConfig(quiet_days=2))
               if o.stream == streams.PRODUCT_TRENDS]
    assert [(r.window_end - T0) // HOUR_MS for r in default] == [6, 54]


def test_trends_classify_through_the_pipeline() -> None:
    """A ramp and a decay over 21 days, through the default topology."""
    rng = np.random.default_rng(0)
    events = []
    for hour in range(21 * 24):
        day = hour / 24
        for product, rate in (("up", 2 + 0.6 * day), ("down", 20 * math.exp(-day / 7))):
            for n in range(int(rng.poisson(rate))):
                events.append(ev("VIEW_PRODUCT", T0 + hour * HOUR_MS + n * 1_000 + 1,
                                 session=f"s{hour}", product_id=product))
    events.sort(key=lambda e: e.timestamp_ms)
    outs = run_topology(default_topology(PipelineConfig(recommendations=None,
                                                           trends=TrendsConfig())), events)
    last = {}
    for out in outs:
        if out.stream == streams.PRODUCT_TRENDS and out.record.window_end == T0 + 21 * DAY_MS:
            last[out.key] = out.record
    assert (last["up"].label, last["up"].direction) == ("rising", "up")
    assert (last["down"].label, last["down"].direction) == ("falling", "down")
    assert last["up"].velocity > 0 > last["down"].velocity


def test_state_is_bounded_by_the_ring() -> None:
    op = ProductTrendsOperator(TrendsConfig(days=2))
    events = [ev("VIEW_PRODUCT", T0 + h * HOUR_MS, product_id="p") for h in range(24 * 6)]
    topology = Topology(trend_stages(op.config)[:2], sink_streams=TRENDS)
    from shopstream.runners.embedded.engine import Engine
    engine = Engine(topology, 0, lambda _: None)
    for event in events:
        engine.offer(event)
        engine.drain()
    snapshot = engine.snapshot()
    assert len(repr(snapshot)) < 20_000  # 48 buckets of 3 counts, not 144
    assert CategoryTrendsOperator.name == "category-trends"


def test_readings_reach_the_store_and_the_answer() -> None:
    events = [ev("VIEW_PRODUCT", T0 + 10, product_id="p1", category="Books"),
              ev("VIEW_PRODUCT", T0 + 2 * HOUR_MS, product_id="p2")]
    store = SqliteStore(tempfile.mkdtemp() + "/t.db")
    tap = StoreTap(store)
    for out in _run(events):
        tap.write(out)
    tap.close()
    status, body = trend_answer(store, "product", "p1")
    assert status == 200 and body["entityId"] == "p1" and body["label"] == "stable"
    assert body["views"] == 1 and body["confidence"] == 0.0 and "velocity" in body
    assert trend_answer(store, "category", "Books")[1]["entity"] == "category"
    assert trend_answer(store, "product", "nope")[0] == 404
    assert store.get(trend_key("product", "p2")) is not None
