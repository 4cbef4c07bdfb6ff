"""SESSION_PAIRS: whole-session co-occurrence with a long memory, learned by the pair
learner, merged and published like every anchored kind, served by the blend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopstream.errors import ConfigError
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import EvalSession, SessionRow
from shopstream.events import EventType, ShopperEvent
from shopstream.events.recommendations import PairDelta
from shopstream.operators.rec_learning import PairLearningOperator
from shopstream.operators.rec_models import ModelListOperator
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.recommend.anchor_lists import AnchorLists
from shopstream.recommend.base import CO_OCCURRENCE, POPULAR, SESSION_PAIRS, RecContext
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.pairs import PairLearner, PairsConfig
from shopstream.recommend.session_pairs import HALF_LIFE_MS, counts_config, pair_shares
from shopstream.recommend.strategies import list_strategies
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.training import ModelTrainer
from shopstream.runners.embedded.harness import run_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.topology import Stage, Topology

DAY = 86_400_000


def _deltas(learner: PairLearner) -> dict[tuple[str, str], dict[str, float]]:
    return {(d.kind, d.anchor): dict(zip(d.items, d.weights, strict=True))
            for d in learner.drain()}


def test_pairs_span_the_session_window_both_ways_weighted_by_distance() -> None:
    learner = PairLearner(PairsConfig(window=1, session_window=3))
    for t, p in enumerate(["a", "b", "c", "d", "e"]):
        learner.learn_step("s", p, "VIEW_PRODUCT", t)
    got = _deltas(learner)
    # e pairs with the latest three distinct products before it: d, c, b (not a).
    assert got[(SESSION_PAIRS, "e")] == {"d": 1.0, "c": 0.5, "b": pytest.approx(1 / 3)}
    assert got[(SESSION_PAIRS, "a")] == {"b": 1.0, "c": 0.5, "d": pytest.approx(1 / 3)}
    # CO_OCCURRENCE keeps its own, shorter window.
    assert got[(CO_OCCURRENCE, "e")] == {"d": 1.0}


def test_off_by_default_and_the_session_memory_stays_within_the_wider_window() -> None:
    off = PairLearner(PairsConfig())
    for t, p in enumerate("abcdefgh"):
        off.learn_step("s", p, "VIEW_PRODUCT", t)
    assert not any(d.kind == SESSION_PAIRS for d in off.drain())
    on = PairLearner(PairsConfig(window=2, session_window=4))
    for t, p in enumerate("abcdefghij"):
        on.learn_step("s", p, "VIEW_PRODUCT", t)
    assert len(on._sessions["s"].items) == 4
    with pytest.raises(ConfigError, match="session_window"):
        PairsConfig(session_window=-1)


def test_a_product_seen_again_is_not_paired_with_itself() -> None:
    # The session's products are distinct; one touched again is skipped, not counted.
    assert pair_shares(["b", "a", "c"], "a", 5) == [("c", 1.0), ("b", 0.5)]
    assert pair_shares(["b", "a", "c"], "a", 1) == [("c", 1.0)]
    assert pair_shares([], "a", 5) == []


def test_session_pairs_remember_for_a_year_where_co_occurrence_forgets_in_weeks() -> None:
    config = CountsConfig(half_life_ms=14 * DAY)
    assert counts_config(SESSION_PAIRS, config).half_life_ms == HALF_LIFE_MS
    assert counts_config(SESSION_PAIRS, CountsConfig(half_life_ms=0)).half_life_ms == 0
    lists = AnchorLists("a")
    for kind in (SESSION_PAIRS, CO_OCCURRENCE):
        lists.add(PairDelta(kind, "a", ("old",), (1.0,)), 0, config)
        lists.add(PairDelta(kind, "a", ("new",), (0.6,)), 28 * DAY, config)
    published = {m.kind: m.items for m in lists.publish(28 * DAY + 1, config, {})}
    # Two half-lives later an old count of 1 is 0.25 for CO_OCCURRENCE, still ~0.95 here.
    assert published[CO_OCCURRENCE] == ("new", "old")
    assert published[SESSION_PAIRS] == ("old", "new")


def test_the_pipeline_stages_publish_it_folded_into_the_blended_lists() -> None:
    config = RecommendConfig(pairs=PairsConfig(window=1, session_window=5),
                             blend=BlendConfig(weights=((SESSION_PAIRS, 1.0),)))
    topology = Topology((
        Stage(PairLearningOperator(config), ("events",), lambda e: e.session_id),
        Stage(ModelListOperator(config), ("rec-pairs",), lambda d: d.anchor or "*")),
        sink_streams=("recommendation-models",))
    views = [ShopperEvent(EventType.VIEW_PRODUCT, t, f"s{t // 3}", product_id=p)
             for t, p in enumerate(["a", "b", "c", "a", "x", "c"])]
    blended = {o.record.anchor: o.record for o in run_topology(topology, views)
               if o.record.kind == "BLENDED" and o.record.items}
    # "c" was three products after "a" in s0 and two in s1: only SESSION_PAIRS links them.
    assert "c" in blended["a"].items
    assert set(blended["a"].sources) == {SESSION_PAIRS}


def test_the_blend_serves_it_within_the_request_caps() -> None:
    config = RecommendConfig(pairs=PairsConfig(session_window=20))
    trainer = ModelTrainer(config)
    for t, p in enumerate(["a", "b", "c", "d", "e", "f", "g"]):
        trainer.learn_step("s1", "u1", p, "VIEW_PRODUCT", t)
    trainer.publish(100)
    strategies = list_strategies(trainer.lists, config.serve)
    ctx = RecContext("s2", "u2", ("a",), frozenset(), 200)
    own = [s.product_id for s in strategies[SESSION_PAIRS].rank(ctx, 10)]
    assert own[:2] == ["b", "c"] and "g" in own
    # CO_OCCURRENCE's window of 5 never links a and g.
    assert "g" not in [s.product_id for s in strategies[CO_OCCURRENCE].rank(ctx, 10)]
    blender = Blender(strategies, BlendConfig(weights=((SESSION_PAIRS, 1.0),), fallback=()))
    assert [b.product_id for b in blender.rank(ctx, 10)] == own


def test_offline_evaluation_learns_and_reports_it() -> None:
    def session(sid: str, start: int, items: str) -> EvalSession:
        return EvalSession(sid, tuple(SessionRow(start + 1_000 * i, p, sid, "VIEW_PRODUCT")
                                      for i, p in enumerate(items)))
    sessions = [session(f"s{n}", n * DAY, "abcdefg") for n in range(9)]
    sessions.append(session("t", 9 * DAY, "ag"))
    report = evaluate(sessions, EvaluationConfig(test_fraction=0.1))
    assert report["predictions"] == 1
    # g follows a in the test; only the whole-session pairs (and popularity) can know it.
    assert report["recommenders"]["session_pairs"]["hr"] == 1.0
    assert report["recommenders"]["co_occurrence"]["hr"] == 0.0
    quick = evaluate(sessions, EvaluationConfig(test_fraction=0.1,
                                                skip=frozenset({"session_knn"})))
    assert "session_knn" not in quick["recommenders"]
    assert quick["recommenders"]["session_pairs"] == report["recommenders"]["session_pairs"] | {
        "latency_ms_median": quick["recommenders"]["session_pairs"]["latency_ms_median"],
        "latency_ms_p99": quick["recommenders"]["session_pairs"]["latency_ms_p99"]}


def test_learning_it_leaves_when_the_other_kinds_drain_unchanged() -> None:
    # The drains set when counts are stamped (and decay): SESSION_PAIRS must not move them.
    fills = []
    for session_window in (0, 20):
        learner = PairLearner(PairsConfig(session_window=session_window, max_pending=40))
        full_at = []
        for t in range(200):
            learner.learn_step(f"s{t // 25}", f"p{(t * 7) % 60}", "VIEW_PRODUCT", t)
            if learner.full:
                full_at.append(t)
                kinds = {d.kind for d in learner.drain()}
                assert (SESSION_PAIRS in kinds) == bool(session_window)
        fills.append(full_at)
    assert fills[0] == fills[1] and fills[0]


def test_a_blend_weighing_it_learns_it() -> None:
    assert RecommendConfig().pairs.session_window == 0
    weighed = RecommendConfig(blend=BlendConfig(weights=((SESSION_PAIRS, 1.0),)))
    assert weighed.pairs.session_window == 20
    chosen = RecommendConfig(pairs=PairsConfig(session_window=8),
                             blend=BlendConfig(weights=((SESSION_PAIRS, 1.0),)))
    assert chosen.pairs.session_window == 8


def test_the_default_pipeline_serves_it_live_when_the_blend_weighs_it(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=600, seed=5, end_ms=1_767_225_600_000), events,
                progress=False)
    variant = RecommendationsConfig(recommend=RecommendConfig(blend=BlendConfig(
        weights=((SESSION_PAIRS, 1.0),), fallback=(POPULAR,), variant="session-pairs")))
    EmbeddedRunner(default_topology(PipelineConfig(recommendations=variant)),
                   tmp_path / "out").run(events)
    records = [json.loads(line) for line in
               (tmp_path / "out" / "product-recommendations.jsonl").read_text().splitlines()]
    sources = {s for r in records for s in r["context"]["sources"]}
    assert {r["context"]["variant"] for r in records} == {"session-pairs"}
    assert SESSION_PAIRS in sources and sources <= {SESSION_PAIRS, POPULAR}
