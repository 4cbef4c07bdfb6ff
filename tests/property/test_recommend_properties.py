"""Whatever was learned and whatever the session holds: no recommendation names a product
in the basket or names one twice, every strategy and the blend alike; the operator's
records obey the same, and survive a snapshot and restore unchanged."""

from __future__ import annotations

import pickle
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import EventType, ShopperEvent
from shopstream.pipeline import default_topology
from shopstream.recommend.base import Basket, RecContext, Step
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.heavy_hitters import SpaceSaving
from shopstream.recommend.suite import RecommendConfig, build_recommenders
from shopstream.runners.embedded.engine import Engine

PRODUCTS = st.sampled_from([f"p{i}" for i in range(12)])
STEPS = st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3", "s4"]),
                           st.sampled_from(["u1", "u2", "u3"]), PRODUCTS,
                           st.sampled_from(["VIEW_PRODUCT", "ADD_TO_CART", "REMOVE_FROM_CART",
                                            "PURCHASE"])),
                 max_size=60)


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, items=st.lists(PRODUCTS, max_size=6), basket=st.sets(PRODUCTS, max_size=6),
       k=st.integers(0, 15), user=st.sampled_from(["u1", "u2", "nobody"]))
def test_no_recommendation_holds_a_basket_item_or_a_repeat(
        steps: list[tuple[str, str, str, str]], items: list[str], basket: set[str], k: int,
        user: str) -> None:
    recs = build_recommenders(RecommendConfig())
    blender = Blender(recs, BlendConfig())
    sessions: dict[str, list[str]] = {}
    for t, (sid, uid, product, kind) in enumerate(steps):
        blender.learn_one(Step(sid, uid, product, kind, t * 1_000))
        sessions.setdefault(sid, []).append(product)
    for sid, products in sessions.items():
        blender.learn_basket(Basket(sid, "u1", tuple(dict.fromkeys(products)), 99_000))
    context = RecContext("now", user, tuple(dict.fromkeys(items)), frozenset(basket), 100_000)
    answers = {name: [s.product_id for s in rec.rank(context, k)] for name, rec in recs.items()}
    answers["blend"] = [b.product_id for b in blender.rank(context, k)]
    for name, products in answers.items():
        assert len(products) <= k, name
        assert len(set(products)) == len(products), name
        assert not set(products) & basket, name


@settings(max_examples=80, deadline=None)
@given(stream=st.lists(st.sampled_from("abcdefghij"), max_size=200), capacity=st.integers(1, 6))
def test_space_saving_bounds_hold_for_every_stream(stream: list[str], capacity: int) -> None:
    sketch = SpaceSaving(capacity)
    for item in stream:
        sketch.add(item)
    assert len(sketch) <= capacity and sketch.total == len(stream)
    for item, count, error in sketch.top(capacity):
        assert count - error <= stream.count(item) <= count
    for item in set(stream):
        if stream.count(item) > len(stream) / capacity:
            assert item in sketch.counts


def _events(steps: list[tuple[str, str, str, str]]) -> list[ShopperEvent]:
    out = []
    for t, (sid, uid, product, kind) in enumerate(steps):
        if kind == "PURCHASE":
            out.append(ShopperEvent(EventType.PURCHASE, 1_000 * (t + 1), sid, event_id=f"e{t}",
                                    user_id=uid))
        else:
            out.append(ShopperEvent(EventType(kind), 1_000 * (t + 1), sid, event_id=f"e{t}",
                                    user_id=uid, product_id=product, price=1.0))
    return out


@settings(max_examples=40, deadline=None)
@given(steps=STEPS, cut=st.integers(0, 60))
def test_operator_records_are_clean_and_survive_snapshot_and_restore(
        steps: list[tuple[str, str, str, str]], cut: int) -> None:
    events = _events(steps)
    whole: list[object] = []
    engine = Engine(default_topology(), 0, whole.append)
    for event in events:
        engine.offer(event)
    engine.finish()

    first: list[object] = []
    before = Engine(default_topology(), 0, first.append)
    for event in events[:cut]:
        before.offer(event)
    before.drain()
    snap = pickle.loads(pickle.dumps(before.snapshot()))
    after = Engine(default_topology(), 0, first.append)
    after.restore(snap)
    for event in events[cut:]:
        after.offer(event)
    after.finish()
    assert first == whole

    records = {o.record.recommendation_id: o.record for o in whole  # type: ignore[attr-defined]
               if o.stream == "product-recommendations"}  # type: ignore[attr-defined]
    assert len(records) == sum(e.event_type in ("VIEW_PRODUCT", "ADD_TO_CART") for e in events)
    # Each session's cart as the event left it: nothing in it may be recommended.
    carts: dict[str, Counter[str]] = {}
    for event in events:
        cart = carts.setdefault(event.session_id, Counter())
        product = event.product_id or ""
        if event.event_type == "PURCHASE":
            cart.clear()
            continue
        if event.event_type == "REMOVE_FROM_CART":
            cart[product] -= 1
            cart += Counter()  # drops lines at zero or below
            continue
        if event.event_type == "ADD_TO_CART":
            cart[product] += 1
        record = records[f"{event.session_id}:{event.event_id}"]
        products = record.recommended_products
        assert len(set(products)) == len(products) <= 10
        assert event.product_id not in products
        assert not set(products) & set(cart)
