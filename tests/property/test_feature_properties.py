"""Properties of the feature operators on random shopping streams.

* any arrival order within the out-of-orderness bound gives the same features;
* a run snapshotted part-way and restored into a fresh engine gives the same features;
* at the end of input every operator has dropped all its state (state is bounded), and
  while the watermark moves no kept event is older than its window.
"""

from __future__ import annotations

import random
from typing import Any

from helpers import ev
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import Item, ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.pipeline import feature_stages
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_topology
from shopstream.topology import Topology

BOUND = 5_000
KINDS = ["VIEW_PRODUCT", "ADD_TO_CART", "REMOVE_FROM_CART", "PURCHASE", "PAGE_VIEW",
         "SEARCH", "ADD_TO_WISHLIST", "BROWSE_CATEGORY"]


def topology() -> Topology:
    return Topology(feature_stages(FeaturesConfig()), ("shopper-features",))


@st.composite
def shopping(draw: st.DrawFn) -> list[ShopperEvent]:
    """Events of a few users and sessions, distinct timestamps, gaps up to 2 hours."""
    count = draw(st.integers(1, 50))
    gaps = draw(st.lists(st.integers(1, 7_200_000), min_size=count, max_size=count))
    events = []
    ts = 0
    for gap in gaps:
        ts += gap
        kind = draw(st.sampled_from(KINDS))
        user = f"u{draw(st.integers(0, 2))}"
        product = f"p{draw(st.integers(0, 4))}"
        extra: dict[str, Any] = {}
        if kind == "PURCHASE" and draw(st.booleans()):
            extra["items"] = (Item(product, category="Toys", price=3.0),)
        if draw(st.booleans()):
            extra.update(device=draw(st.sampled_from(["mobile", "desktop"])),
                         platform=draw(st.sampled_from(["ios", "web"])),
                         country=draw(st.sampled_from(["DE", "FR"])))
        price = draw(st.one_of(st.none(), st.floats(0, 500).map(lambda p: round(p, 2))))
        events.append(ev(kind, ts, f"{user}-s{draw(st.integers(0, 1))}", user_id=user,
                         product_id=product, price=price,
                         category=draw(st.sampled_from(["Books", "Toys", None])),
                         quantity=draw(st.one_of(st.none(), st.integers(1, 3))), **extra))
    return events


def records(outputs: list[Output]) -> list[tuple[str, Any]]:
    return [(o.stream, o.record) for o in outputs]


@settings(max_examples=120, deadline=None)
@given(shopping(), st.randoms(use_true_random=False))
def test_shuffling_within_the_bound_changes_no_feature(events: list[ShopperEvent],
                                                       rnd: random.Random) -> None:
    expected = records(run_topology(topology(), events, BOUND))
    shuffled = sorted(events, key=lambda e: e.timestamp_ms + rnd.randint(0, BOUND))
    assert records(run_topology(topology(), shuffled, BOUND)) == expected


@settings(max_examples=60, deadline=None)
@given(shopping(), st.integers(0, 50))
def test_snapshot_and_restore_give_the_same_features(events: list[ShopperEvent],
                                                     cut: int) -> None:
    expected = records(run_topology(topology(), events, BOUND))
    first: list[Output] = []
    engine = Engine(topology(), BOUND, first.append)
    for event in events[:cut]:
        engine.offer(event)
    engine.drain()
    snapshot = engine.snapshot()
    rest: list[Output] = []
    resumed = Engine(topology(), BOUND, rest.append)
    resumed.restore(snapshot)
    for event in events[cut:]:
        resumed.offer(event)
    resumed.finish()
    assert records(first + rest) == expected


@settings(max_examples=60, deadline=None)
@given(shopping())
def test_state_is_pruned_as_the_watermark_moves_and_empty_at_the_end(
        events: list[ShopperEvent]) -> None:
    engine = Engine(topology(), BOUND, lambda _: None)
    rolling, _, history, _ = engine.contexts
    for event in events:
        engine.offer(event)
        engine.drain()
        mark = engine.watermark_ms
        for window in rolling.backend.snapshot().get("window", {}).values():
            # Pruned at the slot end after an event leaves: never more than a slot late.
            assert all(kept[0] > mark - 3_600_000 - 30_000 for kept in window.events)
        for kept in history.backend.snapshot().get("history", {}).values():
            assert all(t > mark - 86_400_000 - 30_000 for t, _ in kept.touches)
    engine.finish()
    assert [ctx.backend.key_count() for ctx in engine.contexts] == [0, 0, 0, 0]
    assert len(engine.timers) == 0
