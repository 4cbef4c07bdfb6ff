"""One conformance suite over every strategy, plus what each part specifically promises:
the learners, the bounded counts, the versioned lists, the fused lists, the session's
kept votes and the blend."""

from __future__ import annotations

import pytest

from shopstream.errors import ConfigError
from shopstream.events.patterns import AntecedentRules, RuleSummary
from shopstream.events.recommendations import ModelList
from shopstream.recommend.base import (
    AFFINITY,
    ANCHORED_KINDS,
    BASKET_BASED,
    BLENDED,
    CO_OCCURRENCE,
    CROSS_SELL,
    NEXT_ITEM,
    PERSONAL,
    POPULAR,
    SESSION_PAIRS,
    TRENDING,
    VIEW_BASED,
    RecContext,
    Step,
)
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.counts import AnchorCounts, CountsConfig
from shopstream.recommend.fusion import fuse
from shopstream.recommend.history import HistoryConfig, UserHistory
from shopstream.recommend.pairs import PairLearner, PairsConfig
from shopstream.recommend.published import PublishedConfig, PublishedLists
from shopstream.recommend.session_votes import SessionVotes
from shopstream.recommend.strategies import ServeConfig, list_strategies
from shopstream.recommend.suite import RecommendConfig, build_recommenders
from shopstream.recommend.training import ModelTrainer

SESSIONS = {
    "s1": ("u1", ["a", "b", "c", "d"]),
    "s2": ("u2", ["a", "b", "e"]),
    "s3": ("u1", ["b", "c", "f"]),
    "s4": ("u3", ["a", "c", "d", "g"]),
    "s5": ("u2", ["a", "d", "e", "g"]),
}
ALL = (NEXT_ITEM, CO_OCCURRENCE, CROSS_SELL, BASKET_BASED, PERSONAL, AFFINITY, TRENDING,
       POPULAR, VIEW_BASED, SESSION_PAIRS)


def trained() -> tuple[ModelTrainer, dict[str, object]]:
    trainer = ModelTrainer(RecommendConfig(pairs=PairsConfig(session_window=20)))
    recs = build_recommenders(RecommendConfig(), trainer.lists)
    t = 0
    for sid, (user, items) in SESSIONS.items():
        for product in items:
            t += 1_000
            trainer.learn_step(sid, user, product, "ADD_TO_CART", t)
            recs[VIEW_BASED].learn_one(Step(sid, user, product, "ADD_TO_CART", t))
        trainer.learn_basket(items, t)
    trainer.publish(t + 1)
    trainer.lists.apply(AntecedentRules(("a",), (RuleSummary("d", 0.4, 0.6, 1.5, 0.5, 3),
                                                 RuleSummary("g", 0.3, 0.5, 1.2, 0.4, 2)),
                                        t))
    return trainer, dict(recs)


def context(trainer: ModelTrainer) -> RecContext:
    return RecContext("now", "u1", ("b", "a"), frozenset({"a"}), 20_000,
                      trainer.history("u1"))


@pytest.mark.parametrize("name", ALL)
def test_every_strategy_ranks_new_distinct_products_best_first(name: str) -> None:
    trainer, recs = trained()
    rec = recs[name]
    ctx = context(trainer)
    ranked = rec.rank(ctx, 3)  # type: ignore[attr-defined]
    products = [s.product_id for s in ranked]
    assert ranked, name
    assert len(ranked) <= 3
    assert len(set(products)) == len(products)
    assert not set(products) & (ctx.basket | set(ctx.items))
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert rec.rank(ctx, 0) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ALL)
def test_cold_start_gives_nothing_rather_than_inventing(name: str) -> None:
    rec = build_recommenders(RecommendConfig(), PublishedLists())[name]
    assert rec.rank(RecContext("now", "u1", ("a",), frozenset(), 5), 5) == []


@pytest.mark.parametrize("name", sorted(set(ALL) - {VIEW_BASED, PERSONAL}))
def test_lists_published_later_than_the_request_are_not_seen(name: str) -> None:
    # (PERSONAL reads the shopper's own history, no published list.)
    trainer, recs = trained()
    ctx = context(trainer)
    early = RecContext(ctx.session_id, ctx.user_id, ctx.items, ctx.basket, 1,
                       ctx.history)
    assert recs[name].rank(early, 5) == []  # type: ignore[attr-defined]


def test_pair_learner_counts_transitions_windowed_co_occurrence_and_baskets() -> None:
    learner = PairLearner(PairsConfig(window=2))
    for t, p in enumerate(["a", "b", "a", "c"]):
        learner.learn_step("s", p, "VIEW_PRODUCT", t)
    learner.learn_basket(["x", "y", "x"])
    got = {(d.kind, d.anchor): dict(zip(d.items, d.weights, strict=True))
           for d in learner.drain()}
    assert got[(NEXT_ITEM, "a")] == {"b": 1.0, "c": 1.0}
    assert got[(NEXT_ITEM, "b")] == {"a": 1.0}
    # "c" pairs with the latest two distinct products: a (distance 1) and b (distance 2).
    assert got[(CO_OCCURRENCE, "c")] == {"a": 1.0, "b": 0.5}
    assert got[(CROSS_SELL, "x")] == {"y": 1.0} and got[(CROSS_SELL, "y")] == {"x": 1.0}
    assert got[(POPULAR, "")] == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert learner.drain() == []


def test_pair_learner_forgets_old_sessions_and_restarts_after_a_gap() -> None:
    learner = PairLearner(PairsConfig(max_sessions=2, session_gap_ms=100))
    for sid in ("s1", "s2", "s3"):
        learner.learn_step(sid, "a", "VIEW_PRODUCT", 0)
    assert learner.sessions == 2
    learner.drain()
    learner.learn_step("s3", "b", "VIEW_PRODUCT", 500)  # s3 idle 500 ms: a new session
    assert not [d for d in learner.drain() if d.kind == NEXT_ITEM]


def test_pair_learner_asks_for_an_early_drain_when_pending_is_full() -> None:
    learner = PairLearner(PairsConfig(max_pending=5))
    for t, p in enumerate("abcdef"):
        learner.learn_step("s", p, "VIEW_PRODUCT", t)
    assert learner.full
    learner.drain()
    assert not learner.full


def test_anchor_counts_stay_within_twice_the_capacity_and_keep_the_strongest() -> None:
    cfg = CountsConfig(capacity=3, top_n=2, half_life_ms=0)
    counts = AnchorCounts()
    counts.add(["strong"], [100.0], 0, cfg)
    for i in range(50):
        counts.add([f"p{i}"], [1.0], i, cfg)
        # 2 x capacity, plus what was added at the newest time (pruned when time moves on)
        assert len(counts) <= 6 + 1
    assert counts.top(cfg)[0][0] == "strong"


def test_anchor_counts_do_not_depend_on_the_order_of_one_times_deltas() -> None:
    # Two learners publish their deltas for the same interval end; a parallel engine
    # delivers them in either order (pruning after each delta kept "t" at 9 in one order
    # and 10 in the other).
    cfg = CountsConfig(capacity=2, top_n=2, half_life_ms=0)
    first = (["p", "q", "r", "s", "t"], [5.0, 4.0, 3.0, 2.0, 1.0])
    second = (["t", "u"], [9.0, 1.0])
    results = []
    for order in ((first, second), (second, first)):
        counts = AnchorCounts()
        for items, weights in order:
            counts.add(items, weights, 1_000, cfg)
        counts.add(["v"], [0.5], 2_000, cfg)  # time moves on: now it prunes
        results.append((counts.top(cfg), dict(counts.counts)))
    assert results[0] == results[1]
    assert results[0][0] == (("t", "p"), (10.0, 5.0))


def test_anchor_counts_decay_by_event_time() -> None:
    cfg = CountsConfig(half_life_ms=10)
    counts = AnchorCounts()
    counts.add(["a"], [8.0], 0, cfg)
    counts.add(["b"], [1.0], 30, cfg)
    assert counts.top(cfg) == (("a", "b"), (1.0, 1.0))


def test_published_lists_keep_the_newest_versions_whatever_the_arrival_order() -> None:
    updates = [ModelList(NEXT_ITEM, "a", at, (f"v{at}",), (1.0,)) for at in (10, 20, 30)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        lists = PublishedLists(PublishedConfig(versions=2))
        for i in order:
            lists.apply(updates[i])
        assert lists.get(NEXT_ITEM, "a", 25) == (("v20",), (1.0,))
        assert lists.get(NEXT_ITEM, "a", 99) == (("v30",), (1.0,))
        assert lists.get(NEXT_ITEM, "a", 15) is None  # only two versions are kept


def test_published_lists_drop_the_stalest_anchors_beyond_the_cap() -> None:
    lists = PublishedLists(PublishedConfig(max_anchors=10))
    for i in range(25):
        lists.apply(ModelList(CO_OCCURRENCE, f"p{i}", i, ("x",), (1.0,)))
    assert lists.anchors() <= 11
    assert lists.get(CO_OCCURRENCE, "p24", 99) is not None
    assert lists.get(CO_OCCURRENCE, "p0", 99) is None


def test_user_history_is_capped_and_ranks_recent_strong_actions_first() -> None:
    cfg = HistoryConfig(capacity=2, half_life_ms=1_000)
    history = UserHistory()
    history.learn("old", "PURCHASE", 0, cfg)
    for i in range(10):
        history.learn(f"v{i}", "VIEW_PRODUCT", 10 + i, cfg)
        assert len(history) <= 4
    history.learn("new", "PURCHASE", 5_000, cfg)
    assert history.products(1) == ("new",)
    # Decay scales every score alike: the order at any later time is the same.
    assert [p for p, _ in history.top(4, 10**9, cfg)] == list(history.products(4))


def test_user_history_rebases_far_apart_actions_without_overflow() -> None:
    cfg = HistoryConfig(half_life_ms=1)
    history = UserHistory()
    history.learn("a", "PURCHASE", 0, cfg)
    history.learn("b", "VIEW_PRODUCT", 10**6, cfg)
    assert history.products(2) == ("b", "a")


def test_fusion_is_the_weighted_sum_of_reciprocal_rank_votes() -> None:
    items, votes, sources = fuse({NEXT_ITEM: (("x", "y"), (5.0, 1.0)),
                                  CO_OCCURRENCE: (("y",), (9.0,))},
                                 {NEXT_ITEM: 2.0, CO_OCCURRENCE: 1.0}, top_n=5)
    assert items == ("y", "x")
    assert votes == pytest.approx((2 / 12 + 1 / 11, 2 / 11))
    assert sources == (NEXT_ITEM, NEXT_ITEM)


def test_kept_session_votes_equal_the_decayed_sum_over_the_session() -> None:
    trainer, _ = trained()
    serve = ServeConfig(session_items=50, decay=0.7, votes=1_000)
    table = trainer.lists.table(CO_OCCURRENCE)
    votes = SessionVotes()
    session = ("a", "b", "c", "d")
    for product in session:
        votes.add(product, table, 10_000, serve.depth, serve.decay, serve.votes)
    strategy = list_strategies(trainer.lists, serve)[CO_OCCURRENCE]
    kept: dict[str, float] = {}
    computed: dict[str, float] = {}
    ctx = RecContext("s", "u", session, frozenset(), 10_000)
    strategy.contribute(RecContext("s", "u", session, frozenset(), 10_000, (),
                                   {CO_OCCURRENCE: votes}), 1.0, None, kept)
    strategy.contribute(ctx, 1.0, None, computed)
    assert kept == pytest.approx(computed)


def test_the_blend_with_fused_session_votes_ranks_as_the_blend_of_its_parts() -> None:
    trainer, _ = trained()
    blend = BlendConfig(weights=((CO_OCCURRENCE, 1.0), (NEXT_ITEM, 0.5), (CROSS_SELL, 0.25),
                                 (PERSONAL, 0.3)), fallback=())
    trainer._weights = {k: w for k, w in blend.weights if k in ANCHORED_KINDS}
    trainer.publish_all(0)
    serve = ServeConfig(session_items=50, decay=0.8, votes=1_000)
    blender = Blender(list_strategies(trainer.lists, serve), blend)
    session = ("a", "b", "c")
    kept = {kind: SessionVotes() for kind in (*ANCHORED_KINDS, BLENDED)}
    for product in session:
        for kind, votes in kept.items():
            votes.add(product, trainer.lists.tables.get(kind), 10_000, serve.depth,
                      serve.decay, serve.votes)
    history = trainer.history("u1")
    fast = blender.rank(RecContext("s", "u1", session, frozenset(), 10_000, history,
                                   {BLENDED: kept[BLENDED]}), 5)
    slow = blender.rank(RecContext("s", "u1", session, frozenset(), 10_000, history,
                                   {k: kept[k] for k in ANCHORED_KINDS}), 5)
    assert [b.product_id for b in fast] == [b.product_id for b in slow]
    assert [b.score for b in fast] == pytest.approx([b.score for b in slow])


def test_blend_falls_back_to_popular_below_every_blended_product() -> None:
    lists = PublishedLists()
    lists.apply(ModelList(POPULAR, "", 0, ("p", "q", "r"), (3.0, 2.0, 1.0)))
    lists.apply(ModelList(NEXT_ITEM, "a", 0, ("q",), (1.0,)))
    blender = Blender(list_strategies(lists),
                      BlendConfig(weights=((NEXT_ITEM, 1.0),), fallback=(POPULAR,)))
    ranked = blender.rank(RecContext("s", "u", ("a",), frozenset(), 5), 3)
    assert [(b.product_id, b.source, b.fallback) for b in ranked] == [
        ("q", NEXT_ITEM, False), ("p", POPULAR, True), ("r", POPULAR, True)]
    assert ranked[1].score < ranked[0].score and ranked[2].score < ranked[1].score


def test_rules_of_pairs_outrank_rules_of_single_products() -> None:
    lists = PublishedLists()
    lists.apply(AntecedentRules(("a",), (RuleSummary("x", 0.1, 0.9, 2.0, 0.5, 5),), 0))
    lists.apply(AntecedentRules(("a", "b"), (RuleSummary("y", 0.1, 0.5, 2.0, 0.5, 5),), 0))
    rules = list_strategies(lists)[BASKET_BASED]
    ranked = rules.rank(RecContext("s", "u", ("a", "b"), frozenset({"a", "b"}), 5), 5)
    assert [s.product_id for s in ranked] == ["y", "x"]


def test_personal_recommends_past_products_outside_the_session_and_affinity_their_peers(
) -> None:
    trainer, recs = trained()
    ctx = RecContext("now", "u1", ("b",), frozenset(), 20_000, trainer.history("u1"))
    personal = [s.product_id for s in recs[PERSONAL].rank(ctx, 10)]  # type: ignore[attr-defined]
    assert set(personal) == {"a", "c", "d", "f"}
    affinity = [s.product_id for s in recs[AFFINITY].rank(ctx, 10)]  # type: ignore[attr-defined]
    assert affinity and "b" not in affinity


@pytest.mark.parametrize(("config", "field"), [
    (lambda: PairsConfig(window=0), "window"),
    (lambda: CountsConfig(capacity=0), "capacity"),
    (lambda: CountsConfig(half_life_ms=-1), "half_life_ms"),
    (lambda: PublishedConfig(versions=0), "versions"),
    (lambda: HistoryConfig(capacity=0), "capacity"),
    (lambda: ServeConfig(decay=0.0), "decay"),
    (lambda: ServeConfig(depth=5_000), "depth"),
    (lambda: RecommendConfig(key_groups=0), "key_groups"),
    (lambda: BlendConfig(weights=((NEXT_ITEM, -1.0),)), "NEXT_ITEM"),
])
def test_bad_configs_name_the_field_and_value(config: object, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        config()  # type: ignore[operator]


def test_blend_names_strategies_it_lacks() -> None:
    with pytest.raises(ConfigError, match="not given"):
        Blender({}, BlendConfig())


def test_publish_all_republishes_unchanged_fused_lists() -> None:
    """A fused list equal to the one published last is not published again, but
    ``publish_all`` forgets every published list: each anchor's comes back, the same."""
    trainer, _ = trained()
    before = {a: v[-1][1] for a, v in trainer.lists.tables[BLENDED].items()}
    assert before
    trainer.publish(50_000)  # nothing new: nothing published
    assert all(v[-1][0] < 50_000 for v in trainer.lists.tables[BLENDED].values())
    trainer.publish_all(60_000)
    after = trainer.lists.tables[BLENDED]
    assert {a: v[-1][1] for a, v in after.items()} == before
    assert {v[-1][0] for v in after.values()} == {60_000}


@pytest.mark.parametrize("seed", range(5))
def test_anchor_counts_top_sorts_only_the_candidates_and_gives_the_full_sort(seed: int) -> None:
    """Between two tops only the last best and the products counted since are sorted
    (unless the counts decayed or were pruned): the same lists as sorting every count,
    through decay, prunes, equal counts and a pickle round trip."""
    import pickle
    import random

    rng = random.Random(seed)
    cfg = CountsConfig(capacity=8, top_n=4, half_life_ms=10_000)
    counts = AnchorCounts()
    now = 0
    for step in range(400):
        now += rng.choice((0, 0, 1, 20, 3_000))
        items = tuple(dict.fromkeys(f"p{rng.randrange(30)}" for _ in range(rng.randrange(1, 4))))
        counts.add(items, tuple(rng.choice((0.5, 1.0, 2.0)) for _ in items), now, cfg)
        if step % 3 == 0:
            everything = counts.counts
            full = sorted(sorted(everything), key=everything.__getitem__, reverse=True)[:4]
            assert counts.top(cfg) == (tuple(full), tuple(everything[p] for p in full))
        if step % 50 == 7:
            counts = pickle.loads(pickle.dumps(counts))


def test_anchor_counts_decay_is_not_lost_to_frequent_updates() -> None:
    """Counted every 5 minutes for 14 days (one half-life), the first count has halved:
    the small decays of each step add up instead of being skipped."""
    cfg = CountsConfig(half_life_ms=14 * 86_400_000)
    counts = AnchorCounts()
    counts.add(("a",), (1.0,), 0, cfg)
    step = 5 * 60_000
    for t in range(step, 14 * 86_400_000 + 1, step):
        counts.add(("b",), (0.0,), t, cfg)
    assert counts.counts["a"] == pytest.approx(0.5, rel=0.002)
