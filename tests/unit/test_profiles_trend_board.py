"""The trend-aware next best action: category trend readings kept by event time beside the
profile operator (TrendBoard), and the action they lead to."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.events import ShopperEvent
from shopstream.events.profile_models import ProfileModel, RfmThresholds
from shopstream.events.records import Output
from shopstream.events.trends import EntityTrend, TrendFigures
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.pipeline import PipelineConfig, default_topology, profile_stages
from shopstream.profiles.actions import RISING, ActionsConfig
from shopstream.profiles.trend_board import TrendBoard, TrendBoardConfig
from shopstream.profiles.trends import TrendsConfig
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_topology
from shopstream.topology import Topology

H = 3_600_000
DAY = 24 * H


def reading(category: str, end: int, label: str = "rising", strength: float = 0.8,
            entity: str = "category") -> EntityTrend:
    figures = TrendFigures(label=label, strength=strength, direction="up", confidence=0.9,
                           velocity=1.0, acceleration=0.0, level=5.0, change=0.4, days=7.0,
                           views=50, adds=5, purchases=2, seasonality="own")
    return EntityTrend.of(entity, category, end - 7 * DAY, end, figures)


def test_the_reading_in_force_does_not_depend_on_arrival_order() -> None:
    readings = [reading("Toys", 100, "stable"), reading("Toys", 200, "rising"),
                reading("Toys", 300, "falling"), reading("Food", 150, "rising")]
    answers = set()
    for order in itertools.permutations(readings):
        board = TrendBoard(TrendBoardConfig(max_categories=8, versions=3, max_age_ms=1_000))
        for r in order:
            board.apply(r)
        answers.add(tuple(getattr(board.at(c, t), "label", None)
                          for c in ("Toys", "Food") for t in (99, 100, 250, 300, 1_300, 1_301)))
    assert answers == {(None, "stable", "rising", "falling", "falling", None,
                        None, None, "rising", "rising", None, None)}


def test_the_board_is_bounded_by_its_caps() -> None:
    board = TrendBoard(TrendBoardConfig(max_categories=3, versions=2, max_age_ms=DAY))
    for end in range(1, 6):
        board.apply(reading("Toys", end * 10))
    assert len(board) == 2 and board.at("Toys", 25) is None  # 10 and 20 fell off
    for i, category in enumerate(["A", "B", "C", "D"]):
        board.apply(reading(category, 100 + i))
    assert sorted(board.categories()) == ["B", "C", "D"]   # Toys (newest 50), then A
    assert len(board) <= 3 * 2
    board.apply(reading("p1", 500, entity="product"))     # products are not kept
    assert "p1" not in board.categories()


def test_a_reading_received_twice_is_kept_once_and_snapshots_round_trip() -> None:
    board = TrendBoard(TrendBoardConfig(max_categories=4, versions=2, max_age_ms=DAY))
    board.apply(reading("Toys", 10))
    board.apply(reading("Toys", 10))
    board.apply(reading("Toys", 20, "falling"))
    assert len(board) == 2
    snap = board.snapshot()
    assert snap is not None
    copy = TrendBoard(TrendBoardConfig(max_categories=4, versions=2, max_age_ms=DAY))
    copy.restore(snap)
    assert [copy.at("Toys", t) for t in (10, 20)] == [board.at("Toys", t) for t in (10, 20)]
    assert TrendBoard(TrendBoardConfig(1, 1, 0)).snapshot() is None


def test_the_board_rejects_bad_caps() -> None:
    with pytest.raises(ConfigError, match="max_categories"):
        TrendBoardConfig(max_categories=0, versions=1, max_age_ms=0)
    with pytest.raises(ConfigError, match=r"TrendBoardConfig.max_age_ms must be >= 0, got -1"):
        TrendBoardConfig(max_age_ms=-1)


def _profiles(operator_trends: list[EntityTrend], events: list[ShopperEvent],
              config: ProfilesConfig | None = None) -> dict[str, Any]:
    topo = Topology(profile_stages(config or ProfilesConfig()), ("profiles",))
    for trend in operator_trends:
        topo.stages[1].operator.process_broadcast(trend, None)  # type: ignore[arg-type]
    return {o.key: o.record for o in run_topology(topo, events)}


def _browse(user: str, at: int, categories: list[str]) -> list[ShopperEvent]:
    return [ev("VIEW_PRODUCT", at + i * 1_000, f"{user}-s", user_id=user, product_id=f"p{i}",
               category=c) for i, c in enumerate(categories)]


def test_a_rising_favourite_category_becomes_a_next_best_action() -> None:
    t = 10 * DAY
    trends = [reading("Toys", t - H), reading("Food", t - H, "rising", strength=0.9)]
    profiles = _profiles(trends, _browse("u1", t, ["Food", "Toys", "Toys", "Books"]))
    actions = profiles["u1"].actions
    assert [a.action for a in actions] == [RISING]
    # Toys is the stronger preference (2 of 4 views) and rising strongly enough.
    assert actions[0].reason == ("Toys is rising (strength 0.80, confidence 0.90), "
                                 "50% of your category interest")


def test_no_trend_action_for_weak_stale_or_future_readings() -> None:
    t = 10 * DAY
    weak = [reading("Toys", t - H, strength=0.3)]
    stale = [reading("Toys", t - 3 * DAY)]        # older than trend_max_age_ms (2 days)
    future = [reading("Toys", t + H)]             # not in force at the emission's time
    falling = [reading("Toys", t - H, "falling")]
    for trends in (weak, stale, future, falling, []):
        profile = _profiles(trends, _browse("u1", t, ["Toys"]))["u1"]
        assert [a.action for a in profile.actions] == ["nothing: do not disturb"], trends
    lower = ProfilesConfig(actions=ActionsConfig(rising_min_strength=0.3))
    assert [a.action for a in _profiles(weak, _browse("u1", t, ["Toys"]), lower)[
        "u1"].actions] == [RISING]


def test_the_operator_snapshots_models_alone_as_before_and_trends_beside_them() -> None:
    op = CustomerProfileOperator()
    assert op.snapshot_broadcast() is None
    op.process_broadcast(ProfileModel(1, 5, RfmThresholds(10.0, 40.0, 3, 100.0)), None)  # type: ignore[arg-type]
    models_only = op.snapshot_broadcast()
    assert isinstance(models_only, list)          # the format checkpoints had before
    op.process_broadcast(reading("Toys", 100), None)  # type: ignore[arg-type]
    both = op.snapshot_broadcast()
    fresh = CustomerProfileOperator()
    fresh.restore_broadcast(both)
    assert (len(fresh.models), fresh.trends.at("Toys", 100)) == (1, op.trends.at("Toys", 100))
    old = CustomerProfileOperator()
    old.restore_broadcast(models_only)
    assert (len(old.models), len(old.trends)) == (1, 0)


def _ramp_events() -> list[ShopperEvent]:
    """Toys: views ramping up over six days; Food flat. A shopper who likes Toys then."""
    events: list[ShopperEvent] = []
    for h in range(6 * 24):
        events += [ev("VIEW_PRODUCT", h * H + k * 1_000 + 1, f"bg{h}", user_id=f"bg{h % 7}",
                      product_id=f"t{k % 5}", category="Toys") for k in range(1 + h // 8)]
        events.append(ev("VIEW_PRODUCT", h * H + 500, f"f{h}", user_id=f"bf{h % 7}",
                         product_id="f1", category="Food"))
    events += _browse("u1", 6 * DAY + 10, ["Toys"])
    return sorted(events, key=lambda e: e.timestamp_ms)


def _trends_and_profiles() -> Topology:
    return default_topology(PipelineConfig(recommendations=None, trends=TrendsConfig(),
                                           profiles=ProfilesConfig()))


def test_the_trend_stages_feed_the_profiles_in_one_pipeline() -> None:
    events = _ramp_events()
    outputs = run_topology(_trends_and_profiles(), events)
    toys = [o.record for o in outputs if o.stream == "category-trends"
            and o.record.entity_id == "Toys" and o.record.window_end <= 6 * DAY]
    assert toys[-1].label == "rising"
    [u1] = [o.record for o in outputs if o.stream == "profiles" and o.key == "u1"]
    assert [a.action for a in u1.actions] == [RISING]
    assert u1.actions[0].reason.startswith(f"Toys is rising (strength {toys[-1].strength:.2f}")


def test_trend_readings_are_kept_in_checkpoints_and_a_resumed_run_uses_them() -> None:
    events = _ramp_events()
    whole = [o for o in run_topology(_trends_and_profiles(), events)
             if o.stream == "profiles"]
    out: list[Output] = []
    engine = Engine(_trends_and_profiles(), 5_000, out.append)
    for event in events[:-1]:  # everything but the shopper's view
        engine.offer(event)
        engine.drain()
    saved = pickle.loads(pickle.dumps(engine.snapshot()))
    assert saved["stages"]["customer-profiles"]["broadcast"]["trends"] is not None
    resumed = Engine(_trends_and_profiles(), 5_000, out.append)
    resumed.restore(saved)
    resumed.offer(events[-1])
    resumed.finish()
    assert [o.record for o in out if o.stream == "profiles"] == [o.record for o in whole]
    [u1] = [o.record for o in out if o.stream == "profiles" and o.key == "u1"]
    assert [a.action for a in u1.actions] == [RISING]
