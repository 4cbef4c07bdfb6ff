"""Memory stays flat on a long stream: every piece of recommender state stays within its
configured cap, checked all along a simulated stream with small caps."""

from __future__ import annotations

from pathlib import Path

from helpers import ev

from shopstream.connectors.files import JsonlSource
from shopstream.events.decode import EventDecoder
from shopstream.operators.rec_learning import PairLearningOperator
from shopstream.operators.rec_models import ModelListOperator
from shopstream.operators.recommendations import RecommendationOperator, RecommendationsConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.history import HistoryConfig
from shopstream.recommend.pairs import PairsConfig
from shopstream.recommend.published import PublishedConfig
from shopstream.recommend.strategies import ServeConfig
from shopstream.recommend.suite import RecommendConfig
from shopstream.runners.embedded.engine import Engine
from shopstream.sim import SimulationConfig, write_jsonl

CAPS = RecommendConfig(
    pairs=PairsConfig(window=3, basket_items=4, max_sessions=40, max_pending=300),
    counts=CountsConfig(capacity=5, top_n=4),
    published=PublishedConfig(versions=2, max_anchors=60),
    serve=ServeConfig(depth=4, votes=5, session_cap=6, history=4),
    history=HistoryConfig(capacity=4),
    key_groups=4, publish_every_ms=60_000)
CONFIG = RecommendationsConfig(recommend=CAPS, sessions_per_user=2)


def test_recommender_state_stays_within_its_caps_on_a_long_stream(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=4_000, seed=3, days=2, products=200, shoppers=300,
                                 end_ms=1_767_225_600_000), src, progress=False)
    topology = default_topology(PipelineConfig(recommendations=CONFIG))
    engine = Engine(topology, 5_000, lambda out: None)
    stages = {stage.name: (stage.operator, ctx)
              for stage, ctx in zip(topology.stages, engine.contexts, strict=True)}
    decoder = EventDecoder()
    checks = 0
    for n, (line, _) in enumerate(JsonlSource(src)):
        engine.offer(decoder.decode(line))
        if n % 500 == 499:
            engine.drain()
            _check(stages)
            checks += 1
    engine.finish()
    assert checks > 30


def _check(stages: dict[str, tuple[object, object]]) -> None:
    pairs = CAPS.pairs
    learn_op, learn_ctx = stages["rec-learning"]
    assert isinstance(learn_op, PairLearningOperator)
    learners = learn_ctx.backend.snapshot().get("learner", {})  # type: ignore[attr-defined]
    assert len(learners) <= CAPS.key_groups
    for learner in learners.values():
        assert learner.sessions <= pairs.max_sessions
        # One action adds at most 1 + 2 * window entries past the cap before a drain.
        assert learner._size <= pairs.max_pending + 1 + 2 * pairs.window \
            + pairs.basket_items ** 2
    models_op, models_ctx = stages["rec-models"]
    assert isinstance(models_op, ModelListOperator)
    for anchor in models_ctx.backend.snapshot().get("anchor", {}).values():  # type: ignore[attr-defined]
        for counts in anchor.counts.values():
            # Pruned when time moves on past the newest deltas (which may add more).
            counts.add((), (), counts.added_ms + 1, CAPS.counts)
            assert len(counts) <= 2 * CAPS.counts.capacity
    rec_op, rec_ctx = stages["recommendations"]
    assert isinstance(rec_op, RecommendationOperator)
    for shopper in rec_ctx.backend.snapshot().get("shopper", {}).values():  # type: ignore[attr-defined]
        assert len(shopper.sessions) <= CONFIG.sessions_per_user
        assert len(shopper.history) <= 2 * CAPS.history.capacity
        for session in shopper.sessions.values():
            assert len(session.items) <= CAPS.serve.session_cap
            assert len(session.votes) <= 2 * CAPS.serve.votes
    for table in rec_op.lists.tables.values():
        assert len(table) <= CAPS.published.max_anchors + 1
        assert all(len(versions) <= CAPS.published.versions for versions in table.values())


def test_a_shoppers_new_session_is_kept_when_the_oldest_makes_room() -> None:
    """A shopper at ``sessions_per_user`` who starts another session keeps it, and drops
    the least recent one (before: the new session, stamped 0, evicted itself at once, so
    every later event of it started afresh, without its items or cart)."""
    config = RecommendationsConfig(sessions_per_user=2)
    topology = default_topology(PipelineConfig(recommendations=config))
    outputs: list[object] = []
    engine = Engine(topology, 5_000, outputs.append)
    index = [stage.name for stage in topology.stages].index("recommendations")
    base = 1_767_225_600_000
    events = [ev("VIEW_PRODUCT", base + i * 60_000, f"s{i}", user_id="u1",
                 product_id=f"P{i}", price=5.0) for i in range(3)]
    events += [ev("ADD_TO_CART", base + 200_000, "s3", user_id="u1", product_id="P0",
                  price=5.0, quantity=1),
               ev("VIEW_PRODUCT", base + 210_000, "s3", user_id="u1", product_id="P1",
                  price=5.0),
               # another shopper, later: moves the watermark past u1's events
               ev("VIEW_PRODUCT", base + 300_000, "t1", user_id="u2", product_id="P2",
                  price=5.0)]
    for event in events:
        engine.offer(event)
    engine.drain()
    shopper = engine.contexts[index].backend.snapshot()["shopper"]["u1"]  # type: ignore[attr-defined]
    assert sorted(shopper.sessions) == ["s2", "s3"]
    assert list(shopper.sessions["s3"].cart.lines) == ["P0"]
    assert list(shopper.sessions["s3"].items) == ["P0", "P1"]
