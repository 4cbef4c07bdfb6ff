"""One conformance suite over every strategy, plus what each one specifically promises."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from shopstream.errors import ConfigError
from shopstream.mining import ChangeKind, Rule, RuleChange
from shopstream.recommend.base import (
    BASKET_BASED,
    CROSS_SELL,
    PERSONAL,
    POPULAR,
    TRENDING,
    VIEW_BASED,
    Basket,
    RecContext,
    Step,
)
from shopstream.recommend.basket_rules import BasketRules
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.cooccurrence import CoCounts
from shopstream.recommend.cross_sell import CrossSell
from shopstream.recommend.heavy_hitters import SpaceSaving
from shopstream.recommend.personal import Personal
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.suite import RecommendConfig, build_recommenders
from shopstream.recommend.trending import Trending, TrendingConfig, TrendTracker

SESSIONS = {
    "s1": ("u1", ["a", "b", "c", "d"]),
    "s2": ("u2", ["a", "b", "e"]),
    "s3": ("u1", ["b", "c", "f"]),
    "s4": ("u3", ["a", "c", "d", "g"]),
}


def trained() -> dict[str, object]:
    recs = build_recommenders(RecommendConfig())
    basket_rules = recs[BASKET_BASED]
    assert isinstance(basket_rules, BasketRules)
    basket_rules.index.add(Rule(("a",), "d", 2, 3, 2, 4))
    basket_rules.index.add(Rule(("a", "b"), "e", 1, 2, 1, 4))
    t = 0
    for sid, (user, items) in SESSIONS.items():
        for product in items:
            t += 1_000
            for rec in recs.values():
                rec.learn_one(Step(sid, user, product, "ADD_TO_CART", t))
        for rec in recs.values():
            rec.learn_basket(Basket(sid, user, tuple(items), t))
    return dict(recs)


CONTEXT = RecContext("now", "u1", ("a", "b"), frozenset({"a", "b"}), 20_000)


@pytest.mark.parametrize("name", [POPULAR, BASKET_BASED, VIEW_BASED, CROSS_SELL, PERSONAL,
                                  TRENDING])
def test_every_strategy_ranks_new_distinct_products_best_first(name: str) -> None:
    rec = trained()[name]
    ranked = rec.rank(CONTEXT, 3)  # type: ignore[attr-defined]
    assert ranked, name
    products = [s.product_id for s in ranked]
    assert len(ranked) <= 3
    assert len(set(products)) == len(products)
    assert not set(products) & CONTEXT.basket
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert rec.rank(CONTEXT, 0) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", [POPULAR, VIEW_BASED, CROSS_SELL, PERSONAL, TRENDING])
def test_cold_start_gives_nothing_rather_than_inventing(name: str) -> None:
    rec = build_recommenders(RecommendConfig())[name]
    assert rec.rank(CONTEXT, 5) == []


def test_basket_rules_prefer_longer_antecedents_and_score_by_confidence_and_lift() -> None:
    rec = BasketRules()
    rec.apply([RuleChange(ChangeKind.NEW, Rule(("a",), "x", 9, 10, 50, 100)),
               RuleChange(ChangeKind.NEW, Rule(("a", "b"), "y", 2, 4, 10, 100)),
               RuleChange(ChangeKind.NEW, Rule(("b",), "z", 5, 10, 10, 100))])
    ranked = rec.rank(CONTEXT, 5)
    assert [s.product_id for s in ranked] == ["y", "x", "z"]
    # y: 2 + 0.5 * 5 / 6; x: 1 + 0.9 * 1.8 / 2.8; z: 1 + 0.5 * 5 / 6
    assert [round(s.score, 4) for s in ranked] == [2.4167, 1.5786, 1.4167]
    rec.apply([RuleChange(ChangeKind.EXPIRED, Rule(("a", "b"), "y", 2, 4, 10, 100))])
    assert [s.product_id for s in rec.rank(CONTEXT, 5)] == ["x", "z"]


def test_basket_rules_offline_window_mines_on_schedule() -> None:
    rec = BasketRules(window_baskets=4, min_baskets=2, refresh_every=2)
    rec.learn_basket(Basket("1", "u", ("a", "b"), 1))
    assert len(rec.index) == 0
    rec.learn_basket(Basket("2", "u", ("a", "b"), 2))
    assert (("a",), "b") in rec.index  # first mining at min_baskets
    for n in range(3, 7):  # the window of 4 forgets a/b
        rec.learn_basket(Basket(str(n), "u", ("c", "d"), n))
    assert (("a",), "b") not in rec.index and (("c",), "d") in rec.index


def test_session_knn_weights_recent_positions_and_skips_its_own_session() -> None:
    knn = SessionKnn()
    for t, (sid, product) in enumerate([("n1", "x"), ("n1", "q"), ("n2", "y"), ("n2", "r"),
                                        ("me", "x"), ("me", "y")]):
        knn.learn_one(Step(sid, "u", product, "VIEW_PRODUCT", t))
    ranked = knn.rank(RecContext("me", "u", ("x", "y"), frozenset(), 10), 5)
    # n2 shares the later product y (weight 1) and beats n1 sharing x (weight 1/2).
    assert [s.product_id for s in ranked] == ["r", "q"]
    assert ranked[0].score == pytest.approx(2 * ranked[1].score)


def test_session_knn_forgets_the_oldest_sessions() -> None:
    knn = SessionKnn(max_sessions=2)
    for t, sid in enumerate(["s1", "s2", "s3"]):
        knn.learn_one(Step(sid, "u", f"p{t}", "VIEW_PRODUCT", t))
        knn.learn_one(Step(sid, "u", "shared", "VIEW_PRODUCT", t))
    assert len(knn) == 2
    ranked = knn.rank(RecContext("x", "u", ("shared",), frozenset(), 9), 5)
    assert {s.product_id for s in ranked} == {"p1", "p2"}


def test_cross_sell_is_the_share_of_baskets_bought_together() -> None:
    cs = CrossSell()
    for n, items in enumerate([("a", "b"), ("a", "b"), ("a", "c"), ("a",)]):
        cs.learn_basket(Basket(str(n), "u", items, n))
    ranked = cs.rank(RecContext("s", "u", ("a",), frozenset({"a"}), 9), 5)
    assert [(s.product_id, s.score) for s in ranked] == [("b", 0.5), ("c", 0.25)]


def test_personal_reorders_first_and_decays_with_time() -> None:
    p = Personal(cf_weight=0.0, history_half_life_ms=1_000)
    p.learn_one(Step("s1", "u", "old", "ADD_TO_CART", 0))
    p.learn_one(Step("s1", "u", "old", "ADD_TO_CART", 0))
    p.learn_one(Step("s2", "u", "new", "ADD_TO_CART", 2_000))
    ranked = p.rank(RecContext("s3", "u", (), frozenset(), 2_000), 5)
    # old: 2 * 0.5 ** 2 = 0.5 of new's 1.0
    assert [(s.product_id, s.score) for s in ranked] == [("new", 1.0), ("old", 0.5)]
    assert p.rank(RecContext("s", "stranger", (), frozenset(), 0), 5) == []


def test_space_saving_keeps_its_guarantee() -> None:
    stream = ["a"] * 50 + ["b"] * 30 + [f"noise{i}" for i in range(100)] + ["c"] * 25
    sketch = SpaceSaving(10)
    for item in stream:
        sketch.add(item)
    truth = Counter(stream)
    assert len(sketch) == 10
    for item, count, error in sketch.top(10):
        assert count - error <= truth[item] <= count
    # Anything above N / capacity = 20.5 has a counter.
    assert {"a", "b", "c"} <= set(sketch.counts)


def test_trending_velocity_is_positive_for_rising_products() -> None:
    tracker = TrendTracker(TrendingConfig(window_ms=300_000, slide_ms=60_000))
    for minute in range(5):
        for _ in range(minute):  # rising: 0, 1, 2, 3, 4 per minute
            tracker.add("rising", 1.0, minute * 60_000 + 1)
        for _ in range(3):  # flat
            tracker.add("flat", 1.0, minute * 60_000 + 2)
    top = {p.product_id: p for p in tracker.snapshot(299_999, 5)}
    assert top["rising"].count == 10 and top["flat"].count == 15
    assert top["rising"].velocity == 4 - 6 / 4 and top["flat"].velocity == 0
    assert top["rising"].score > top["flat"].score * 0  # both listed
    trending = Trending()
    trending.update(tuple(tracker.snapshot(299_999, 5)))
    assert trending.rank(RecContext("s", "u", (), frozenset({"flat"}), 0), 5)[0][0] == "rising"


def test_cocounts_top_follows_updates() -> None:
    co = CoCounts()
    co.add_group(["a", "b"])
    assert co.top("a", 1) == [("b", 1)]
    for _ in range(40):
        co.add_one("c", ["a"])
    assert co.top("a", 1) == [("c", 40)]


def test_blender_weights_are_configuration_and_fallback_fills_cold_starts() -> None:
    recs = trained()
    only_rules = Blender(recs, BlendConfig(weights=((BASKET_BASED, 1.0),),  # type: ignore[arg-type]
                                           fallback=(POPULAR,), variant="B"))
    ranked = only_rules.rank(CONTEXT, 4)
    assert [r.source for r in ranked[:2]] == [BASKET_BASED, BASKET_BASED]
    assert [r.product_id for r in ranked[:2]] == ["e", "d"]
    assert {r.source for r in ranked[2:]} == {POPULAR}
    assert len({r.product_id for r in ranked}) == 4
    assert all(a.score > b.score for a, b in itertools.pairwise(ranked))
    with pytest.raises(ConfigError, match="not given"):
        Blender({}, BlendConfig())
    with pytest.raises(ConfigError, match=">= 0"):
        BlendConfig(weights=((PERSONAL, -1.0),))
