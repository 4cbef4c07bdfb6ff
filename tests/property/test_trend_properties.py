"""Trend readings do not depend on arrival order within the watermark bound.

Random views, adds and purchases (some with items and categories) over a few days go
through the trend stages twice: in event-time order and shuffled with each event delayed
by up to the bound. The readings of every product and category (per key, as multisets:
the order between keys is not part of the contract) must be equal. The config reads keys
from their first event on (no minimum of data), so the classification itself runs.
"""

from __future__ import annotations

import random
from collections import Counter

from helpers import ev
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import Item, ShopperEvent, streams
from shopstream.pipeline import trend_stages
from shopstream.profiles.trends import TrendsConfig
from shopstream.runners.embedded.harness import run_topology
from shopstream.topology import Topology

BOUND = 600_000
HOUR = 3_600_000
T0 = 1_700_006_400_000
CONFIG = TrendsConfig(days=3, min_days=0.0, min_events=0, quiet_days=1, recent_days=2,
                      reading_every_buckets=1)
TRENDS = (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS)


@st.composite
def traffic(draw: st.DrawFn) -> list[ShopperEvent]:
    events = []
    ts = T0 + draw(st.integers(0, 24 * HOUR))
    for i in range(draw(st.integers(1, 120))):
        ts += draw(st.sampled_from([0, 1, 60_000, 400_000, HOUR, 5 * HOUR]))
        kind = draw(st.sampled_from(["VIEW_PRODUCT", "VIEW_PRODUCT", "ADD_TO_CART",
                                     "PURCHASE", "SEARCH"]))
        product = f"p{draw(st.integers(0, 3))}"
        category = draw(st.sampled_from([None, "c0", "c1"]))
        extra: dict[str, object] = {}
        if kind == "PURCHASE" and draw(st.booleans()):
            extra["items"] = (Item(product, category=category, quantity=draw(st.integers(1, 3))),
                              Item(f"p{draw(st.integers(0, 3))}", category="c1"))
        events.append(ev(kind, ts, f"s{i % 3}", product_id=product, category=category,
                         quantity=draw(st.integers(0, 2)), **extra))
    return events


def _readings(events: list[ShopperEvent]) -> dict[tuple[str, str], Counter[object]]:
    topology = Topology(trend_stages(CONFIG), sink_streams=TRENDS)
    per_key: dict[tuple[str, str], Counter[object]] = {}
    for out in run_topology(topology, events, BOUND):
        per_key.setdefault((out.stream, out.key), Counter())[out.record] += 1
    return per_key


@settings(max_examples=40, deadline=None)
@given(traffic(), st.randoms(use_true_random=False))
def test_shuffling_within_the_bound_changes_no_reading(events: list[ShopperEvent],
                                                      rnd: random.Random) -> None:
    expected = _readings(events)
    shuffled = sorted(events, key=lambda e: e.timestamp_ms + rnd.randint(0, BOUND))
    assert _readings(shuffled) == expected
    assert any(stream == streams.PRODUCT_TRENDS for stream, _ in expected) == any(
        e.event_type.value in ("VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE")
        and (e.product_id or e.items) for e in events)
