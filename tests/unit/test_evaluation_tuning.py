"""Choosing on the validation split: the blend's weights, the learned counts' memory, and
whether session k-NN may be weighed; and session k-NN's neighbour recency."""

from __future__ import annotations

import pytest

from shopstream.errors import ConfigError
from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import EvalSession, SessionRow, split
from shopstream.evaluation.tuning import tune
from shopstream.recommend.base import VIEW_BASED, RecContext, Step
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.pairs import PairsConfig
from shopstream.recommend.published import PublishedLists
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.suite import RecommendConfig, build_recommenders

DAY = 86_400_000
_DRAINING = RecommendConfig(pairs=PairsConfig(max_pending=1))


def _session(sid: str, day: int, items: str) -> EvalSession:
    return EvalSession(sid, tuple(SessionRow(day * DAY + 1_000 * i, p, sid, "VIEW_PRODUCT")
                                  for i, p in enumerate(items)))


def _old_habit_then_recent_noise() -> list[EvalSession]:
    """a -> g ten times nearly three years ago, a -> h four times lately, then a -> g
    again: only counts that never decay keep g first after a (a year's half-life leaves
    g 1.5 against h's 4). 20 sessions: 16 train (the latest 2 of them validate), 4
    test."""
    sessions = [_session(f"old{n}", n, "ag") for n in range(10)]
    sessions += [_session(f"new{n}", 1_000 + n, "ah") for n in range(4)]
    sessions += [_session(f"back{n}", 1_004 + n, "ag") for n in range(6)]
    return sessions


def test_tune_memory_keeps_the_half_life_that_does_best_on_validation() -> None:
    sessions = _old_habit_then_recent_noise()
    train, test = split(sessions, 0.2)
    assert [s.session_id for s in test] == ["back2", "back3", "back4", "back5"]
    # Counts decay between merges: merge after every action, as a busy learner would.
    config = EvaluationConfig(k=1, tune=True, tune_memory=True, recommend=_DRAINING,
                              skip=frozenset({"session_knn"}))
    rec, info = tune(train, config)
    by_memory = info["memories"]
    assert by_memory["14"]["hr"]["co_occurrence"] == 0.0
    assert by_memory["never"]["hr"]["co_occurrence"] == 1.0
    assert by_memory["365"]["blend_hr"] == 0.0
    assert info["half_life_days"] == "never"
    assert rec.counts.half_life_ms == 0
    assert rec.blend.variant == "tuned"
    # The chosen memory reaches the test: the blend finds g after a there too, where
    # every strategy with the default memory finds h.
    tuned = evaluate(sessions, config)
    assert tuned["recommenders"]["blend"]["hr"] == 1.0
    assert tuned["half_life_ms"] == rec.counts.half_life_ms
    fixed = evaluate(sessions, EvaluationConfig(k=1, tune=True, recommend=_DRAINING,
                                                skip=frozenset({"session_knn"})))
    assert fixed["recommenders"]["blend"]["hr"] == 0.0
    assert "memories" not in fixed["tuning"]


def test_session_knn_is_weighed_only_when_asked() -> None:
    sessions = _old_habit_then_recent_noise()
    train, _ = split(sessions, 0.2)
    with_knn = EvaluationConfig(k=1, tune=True, tune_memory=True, blend_knn=True,
                                recommend=_DRAINING)
    _, info = tune(train, with_knn)
    assert "session_knn" in info["memories"]["never"]["hr"]
    _, info = tune(train, EvaluationConfig(k=1, tune=True, tune_memory=True,
                                           recommend=_DRAINING))
    assert "session_knn" not in info["memories"]["never"]["hr"]


def _knn_with_an_old_close_and_a_recent_loose_neighbour(**kwargs: int) -> list[str]:
    knn = SessionKnn(**kwargs)
    for sid, day, items in [("old", 0, "xyz"), ("recent", 300, "xw")]:
        for i, p in enumerate(items):
            knn.learn_one(Step(sid, "u", p, "VIEW_PRODUCT", day * DAY + i))
    ctx = RecContext("now", "u", ("x", "y"), frozenset(), 301 * DAY)
    return [s.product_id for s in knn.rank(ctx, 2)]


def test_session_knn_weighs_old_neighbours_fully_unless_given_a_half_life() -> None:
    # The old session shares two products, the recent one one.
    assert _knn_with_an_old_close_and_a_recent_loose_neighbour() == ["z", "w"]
    assert _knn_with_an_old_close_and_a_recent_loose_neighbour(
        neighbour_half_life_ms=7 * DAY) == ["w", "z"]
    with pytest.raises(ConfigError, match="neighbour_half_life_ms must be >= 0, got -1"):
        SessionKnn(neighbour_half_life_ms=-1)


@pytest.mark.parametrize("half_life_ms", [0, 14 * DAY])
def test_session_knn_remembers_as_long_as_the_counts(half_life_ms: int) -> None:
    config = RecommendConfig(counts=CountsConfig(half_life_ms=half_life_ms))
    knn = build_recommenders(config, PublishedLists())[VIEW_BASED]
    assert isinstance(knn, SessionKnn)
    assert knn.neighbour_half_life_ms == half_life_ms
