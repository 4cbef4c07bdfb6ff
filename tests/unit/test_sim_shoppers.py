"""Simulated shoppers: action mix, coherent sessions, affinities in behaviour, timing."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from itertools import combinations, pairwise

import pytest

from shopstream.events.model import EventType, ShopperEvent
from shopstream.sim import (
    MIX_TYPES,
    SESSION_GAP_MS,
    TARGET_SHARES,
    SimulationConfig,
    generate_events,
)
from shopstream.sim.catalog import Catalog
from shopstream.sim.engine import Simulation
from shopstream.sim.traffic import DAY_MS, HOUR_MS

END_MS = 1_717_200_000_000  # 2024-06-01T00:00:00Z
ET = EventType


def _run(config: SimulationConfig) -> tuple[list[ShopperEvent], Catalog]:
    sim = Simulation(config)
    return [event for _, event in sim.deliveries()], sim.catalog


@pytest.fixture(scope="module")
def run() -> tuple[list[ShopperEvent], Catalog]:
    # ~20k events: enough for shares within a point, fast enough for a unit test.
    return _run(SimulationConfig(sessions=5000, seed=42, end_ms=END_MS, days=2.0))


@pytest.fixture(scope="module")
def events(run: tuple[list[ShopperEvent], Catalog]) -> list[ShopperEvent]:
    return run[0]


@pytest.fixture(scope="module")
def sessions(events: list[ShopperEvent]) -> dict[str, list[ShopperEvent]]:
    grouped: dict[str, list[ShopperEvent]] = defaultdict(list)
    for ev in events:
        grouped[ev.session_id].append(ev)
    return grouped


def test_action_mix_matches_the_seed_shares(events: list[ShopperEvent]) -> None:
    counts = Counter(ev.event_type for ev in events)
    in_mix = sum(counts[t] for t in MIX_TYPES)
    assert in_mix >= 15_000
    for event_type in MIX_TYPES:
        share = counts[event_type] / in_mix
        assert abs(share - TARGET_SHARES[event_type]) < 0.02, (event_type, share)
    # The extra types are one PAGE_VIEW per session and occasional searches only.
    assert set(counts) == set(MIX_TYPES) | {ET.PAGE_VIEW, ET.SEARCH}
    assert counts[ET.SEARCH] < 0.1 * len(events)


def test_every_session_opens_with_a_page_view(
        sessions: dict[str, list[ShopperEvent]]) -> None:
    assert len(sessions) == 5000
    for evs in sessions.values():
        assert evs[0].event_type is ET.PAGE_VIEW
        assert sum(e.event_type is ET.PAGE_VIEW for e in evs) == 1


def test_carts_are_coherent(sessions: dict[str, list[ShopperEvent]]) -> None:
    after_view = adds = abandoned = purchases = 0
    for evs in sessions.values():
        cart: dict[str, int] = {}
        viewed: set[str] = set()
        previous: ShopperEvent | None = None
        for ev in evs:
            pid = ev.product_id
            if ev.event_type is ET.VIEW_PRODUCT:
                assert pid is not None
                viewed.add(pid)
            elif ev.event_type is ET.ADD_TO_CART:
                assert pid is not None and ev.quantity is not None and ev.quantity >= 1
                assert pid in viewed, "add without a view in the session"
                adds += 1
                if (previous is not None and previous.event_type is ET.VIEW_PRODUCT
                        and previous.product_id == pid):
                    after_view += 1
                cart[pid] = cart.get(pid, 0) + ev.quantity
            elif ev.event_type is ET.REMOVE_FROM_CART:
                assert pid in cart, "remove of something not in the cart"
                assert ev.quantity is not None and 1 <= ev.quantity <= cart[pid]
                cart[pid] -= ev.quantity
                if cart[pid] == 0:
                    del cart[pid]
            elif ev.event_type is ET.PURCHASE:
                assert ev is evs[-1], "a purchase ends its session"
                assert ev.items is not None
                assert {i.product_id: i.quantity for i in ev.items} == cart
                purchases += 1
                cart = {}
            previous = ev
        abandoned += bool(cart)
    assert after_view / adds > 0.9
    assert purchases > 0.3 * len(sessions)
    assert abandoned > 0.03 * len(sessions)


def test_purchases_carry_consistent_orders(events: list[ShopperEvent]) -> None:
    orders = [e for e in events if e.event_type is ET.PURCHASE]
    assert orders
    order_ids = [o.order_id for o in orders]
    assert len(set(order_ids)) == len(order_ids)
    for order in orders:
        assert order.items and order.currency == "USD" and order.order_id
        for item in order.items:
            assert item.product_name and item.category and item.price > 0
        total = round(sum(i.price * i.quantity for i in order.items), 2)
        assert order.cart_total == total
        assert order.quantity == sum(i.quantity for i in order.items)
    assert sum(len(o.items or ()) for o in orders) / len(orders) > 1.3


def test_bundles_co_occur_in_purchases_far_more_than_chance(
        run: tuple[list[ShopperEvent], Catalog]) -> None:
    events, catalog = run
    baskets = [{i.product_id for i in e.items or ()} for e in events
               if e.event_type is ET.PURCHASE]
    n = len(baskets)
    freq = Counter(pid for basket in baskets for pid in basket)
    observed = expected = 0.0
    for bundle in catalog.bundles:
        for a, b in combinations(bundle.product_ids, 2):
            observed += sum(1 for basket in baskets if a in basket and b in basket)
            expected += freq[a] * freq[b] / n
    assert observed >= 50
    assert observed > 20 * expected


def test_complements_are_bought_together_more_than_chance(
        run: tuple[list[ShopperEvent], Catalog]) -> None:
    events, catalog = run
    baskets = [{i.product_id for i in e.items or ()} for e in events
               if e.event_type is ET.PURCHASE]
    n = len(baskets)
    freq = Counter(pid for basket in baskets for pid in basket)
    observed = sum(1 for c in catalog.complements for basket in baskets
                   if c.source in basket and c.target in basket)
    expected = sum(freq[c.source] * freq[c.target] / n for c in catalog.complements)
    assert observed > 10 * expected


def test_events_are_sorted_with_realistic_gaps(
        events: list[ShopperEvent], sessions: dict[str, list[ShopperEvent]]) -> None:
    stamps = [e.timestamp_ms for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= END_MS - 2 * DAY_MS and stamps[-1] < END_MS + 2 * HOUR_MS
    gaps = [b.timestamp_ms - a.timestamp_ms
            for evs in sessions.values() for a, b in pairwise(evs)]
    assert min(gaps) >= 1_000 and max(gaps) <= 300_000
    assert 5_000 < sorted(gaps)[len(gaps) // 2] < 60_000


def test_a_shoppers_sessions_are_more_than_30_minutes_apart(
        sessions: dict[str, list[ShopperEvent]]) -> None:
    by_user: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for evs in sessions.values():
        assert len({e.user_id for e in evs}) == 1
        by_user[evs[0].user_id].append((evs[0].timestamp_ms, evs[-1].timestamp_ms))
    returning = 0
    for spans in by_user.values():
        spans.sort()
        returning += len(spans) > 1
        for (_, end), (start, _) in pairwise(spans):
            assert start - end > SESSION_GAP_MS
    assert returning > 50


def test_events_carry_the_wire_fields(events: list[ShopperEvent]) -> None:
    ids = [e.event_id for e in events]
    assert ids == [f"e-42-{n}" for n in range(len(events))]
    product_events = {ET.VIEW_PRODUCT, ET.ADD_TO_CART, ET.REMOVE_FROM_CART,
                      ET.ADD_TO_WISHLIST}
    for e in events:
        assert re.fullmatch(r"U\d{6}", e.user_id) and e.session_id.startswith("s-42-")
        assert e.device in {"desktop", "mobile", "tablet"}
        assert e.platform in {"web", "ios", "android"}
        assert e.country and e.region and e.page_url
        if e.event_type in product_events:
            assert e.product_id and e.product_name and e.category and e.price
        if e.event_type is ET.BROWSE_CATEGORY:
            assert e.category and e.product_id is None
        if e.event_type is ET.SEARCH:
            assert e.search_query
    assert any(e.campaign for e in events) and not all(e.campaign for e in events)
    assert len({e.country for e in events}) > 5


def test_daily_traffic_curve_peaks_in_the_evening() -> None:
    events, _ = _run(SimulationConfig(sessions=3000, seed=1, end_ms=END_MS, days=7.0,
                                      products=300))
    starts = [e.timestamp_ms for e in events if e.event_type is ET.PAGE_VIEW]
    hours = Counter((ts // HOUR_MS) % 24 for ts in starts)
    assert hours[19] > 4 * hours[4]
    assert min(starts) >= END_MS - 7 * DAY_MS and max(starts) < END_MS


def test_without_days_sessions_start_in_the_last_hour() -> None:
    events = list(generate_events(SimulationConfig(sessions=200, seed=3, end_ms=END_MS)))
    starts = [e.timestamp_ms for e in events if e.event_type is ET.PAGE_VIEW]
    assert min(starts) >= END_MS - HOUR_MS and max(starts) < END_MS


def test_disorder_is_bounded_and_keeps_the_same_events() -> None:
    base = SimulationConfig(sessions=400, seed=5, end_ms=END_MS)
    sorted_events = list(generate_events(base))
    late = list(generate_events(SimulationConfig(sessions=400, seed=5, end_ms=END_MS,
                                                 disorder_ms=5_000)))
    key = [(e.session_id, e.timestamp_ms, e.event_type) for e in sorted_events]
    assert sorted(key) == sorted((e.session_id, e.timestamp_ms, e.event_type) for e in late)
    newest, worst, out_of_order = 0, 0, 0
    for e in late:
        if e.timestamp_ms < newest:
            out_of_order += 1
            worst = max(worst, newest - e.timestamp_ms)
        newest = max(newest, e.timestamp_ms)
    assert out_of_order > 10
    assert worst <= 5_000
