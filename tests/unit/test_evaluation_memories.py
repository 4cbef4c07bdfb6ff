"""Choosing the memory from one training: every memory's lists and validation votes are
exactly those a training of its own gives (``ModelTrainer.with_counts``, session k-NN's
views, lists deferred to ``publish_all``)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from shopstream.evaluation.harness import EvalHarness
from shopstream.evaluation.sessions import EvalSession, SessionRow, split
from shopstream.evaluation.tuning import MEMORY_GRID_MS, _prepare
from shopstream.recommend.base import RecContext, Step
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.pairs import PairsConfig
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.training import ModelTrainer

DAY = 86_400_000
_KINDS = ("VIEW_PRODUCT", "VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE")


def _sessions(n: int = 160, seed: int = 7) -> list[EvalSession]:
    """Sessions over two years of 30 products, some shoppers coming back, with views,
    adds and purchases: counts that decay, prune (capacity 4) and merge often."""
    rng = random.Random(seed)
    out = []
    for s in range(n):
        start = s * 5 * DAY + rng.randrange(DAY)
        user = f"u{rng.randrange(40)}"
        rows = tuple(SessionRow(start + 60_000 * i, f"p{rng.randrange(30)}", user,
                                rng.choice(_KINDS)) for i in range(rng.randrange(2, 9)))
        out.append(EvalSession(f"s{s}", rows))
    return out


_REC = RecommendConfig(pairs=PairsConfig(max_pending=7, session_window=6),
                       counts=CountsConfig(capacity=4, top_n=6)).for_list_length(6)


def _trained(rec: RecommendConfig, sessions: list[EvalSession], record: bool = False,
             defer: bool = True, every: int | None = None) -> ModelTrainer:
    harness = EvalHarness(rec, record=record)
    last = harness.learn_all(sessions, every, defer_lists=defer)
    harness.trainer.mine_rules(0)
    harness.trainer.publish_all(0, now_ms=last + 1)
    return harness.trainer


def test_every_memory_replayed_from_one_training_publishes_its_own_trainings_lists() -> None:
    sessions = _sessions()
    recorded = _trained(_REC, sessions, record=True)
    assert recorded.tape and len(recorded.tape) > 20  # many merges, at many times
    for half_life in MEMORY_GRID_MS:
        counts = replace(_REC.counts, half_life_ms=half_life)
        replayed = recorded.with_counts(counts)
        replayed.publish_all(0, now_ms=sessions[-1].events[-1].timestamp_ms + 1)
        own = _trained(replace(_REC, counts=counts), sessions)
        assert replayed.lists.tables == own.lists.tables, half_life
    # the memories do differ: the test is not comparing one list with itself
    assert recorded.with_counts(replace(_REC.counts, half_life_ms=0)).tape is None
    with pytest.raises(ValueError, match="record=True"):
        _trained(_REC, sessions).with_counts(_REC.counts)


def test_memories_give_different_lists() -> None:
    sessions = _sessions()
    recorded = _trained(_REC, sessions, record=True)
    never = recorded.with_counts(replace(_REC.counts, half_life_ms=0))
    never.publish_all(0, now_ms=sessions[-1].events[-1].timestamp_ms + 1)
    assert never.lists.tables != recorded.lists.tables


@pytest.mark.parametrize("every", [None, 7 * DAY])
def test_lists_deferred_to_publish_all_are_the_lists_published_as_they_went(
        every: int | None) -> None:
    sessions = _sessions()
    for rec in (_REC, replace(_REC, counts=replace(_REC.counts, half_life_ms=30 * DAY))):
        deferred = _trained(rec, sessions, every=every)
        assert not deferred.defer_lists  # publish_all ends the deferral
        published = _trained(rec, sessions, defer=False, every=every)
        assert deferred.lists.tables == published.lists.tables


def test_each_memorys_validation_votes_from_one_training_are_its_own_trainings() -> None:
    fit, validation = split(_sessions(), 0.2)
    recs = [replace(_REC, counts=replace(_REC.counts, half_life_ms=h)) for h in MEMORY_GRID_MS]
    together, names = _prepare(fit, validation, recs, True, 10_000)
    assert "VIEW_BASED" in names and len(together[0]) > 50
    for rec, cases in zip(recs, together, strict=True):
        (alone,), alone_names = _prepare(fit, validation, [rec], True, 10_000)
        assert alone_names == names
        assert [(target, votes) for _, target, votes in cases] == [
            (target, votes) for _, target, votes in alone]
    assert together[0] != together[-1]


def test_session_knn_views_rank_as_their_own_index_and_follow_its_learning() -> None:
    steps = [Step(f"s{n // 4}", "u", f"p{(n * 7) % 11}", "VIEW_PRODUCT", n * DAY)
             for n in range(60)]
    shared = SessionKnn()
    view = shared.with_half_life(10 * DAY)
    own = SessionKnn(neighbour_half_life_ms=10 * DAY)
    context = RecContext("now", "u", ("p3", "p5"), frozenset(), 61 * DAY)
    for step in steps[:40]:
        shared.learn_one(step)
        own.learn_one(step)
    assert shared.rank(context, 5) != view.rank(context, 5) == own.rank(context, 5)
    for step in steps[40:]:  # learning through the index forgets the shared candidates
        shared.learn_one(step)
        own.learn_one(step)
    assert view.rank(context, 5) == own.rank(context, 5)
    with pytest.raises(Exception, match="neighbour_half_life_ms"):
        shared.with_half_life(-1)


def test_a_memory_shares_the_counts_of_the_kinds_it_counts_alike() -> None:
    # SESSION_PAIRS keeps a year's memory under 14 and 90 days: its counts are the
    # recorded training's own objects, not a replay of them; the other kinds' are not
    sessions = _sessions()
    recorded = _trained(_REC, sessions, record=True)
    season = replace(_REC.counts, half_life_ms=90 * DAY)
    replayed = recorded.with_counts(season)
    replayed.publish_all(0, now_ms=sessions[-1].events[-1].timestamp_ms + 1)
    shared = {kind for anchor, lists in replayed.merged.items()
              for kind, counts in lists.counts.items()
              if counts is recorded.merged[anchor].counts[kind]}
    assert shared == {"SESSION_PAIRS"}
    assert replayed.lists.tables == _trained(replace(_REC, counts=season), sessions).lists.tables
    never = recorded.with_counts(replace(_REC.counts, half_life_ms=0))
    assert not any(counts is recorded.merged[anchor].counts[kind]
                   for anchor, lists in never.merged.items()
                   for kind, counts in lists.counts.items())
