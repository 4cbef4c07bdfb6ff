"""The ``profile-models`` broadcast in the Customer 360 operator: the version in force is
decided by event time, the versions are capped and checkpointed, and the RFM segment
follows the thresholds in force, bounds included."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.events import Item, ShopperEvent
from shopstream.events.profile_models import (
    BgNbdModel,
    GammaGammaModel,
    ProfileModel,
    RfmThresholds,
)
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profile_models import ModelVersions
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.pipeline import profile_stages
from shopstream.profiles.actions import ChurnConfig
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.segments import RfmConfig
from shopstream.runners.embedded.engine import Engine
from shopstream.topology import Topology

DAY = 86_400_000
RFM = RfmThresholds(10.0, 40.0, 3, 100.0)
BG = BgNbdModel(0.243, 4.414, 0.793, 2.426)
GG = GammaGammaModel(6.25, 3.74, 15.4)


def _versions(cap: int = 4) -> ModelVersions:
    return ModelVersions(ChurnConfig(), RfmConfig(), cap)


def test_the_newest_version_valid_at_the_time_answers_else_the_static_config() -> None:
    models = _versions()
    models.apply(ProfileModel(1, 1_000, RFM))
    models.apply(ProfileModel(2, 5_000, RfmThresholds(5.0, 20.0, 2, 50.0), BG, GG))
    assert [models.at(t).version for t in (0, 999, 1_000, 4_999, 5_000, 10**15)] == [
        0, 0, 1, 1, 2, 2]
    assert models.at(0).churn == ChurnConfig() and models.at(0).rfm == RfmConfig()
    assert models.at(1_000).churn.bgnbd is None  # version 1 has no BG/NBD: the static one
    two = models.at(5_000)
    assert two.churn.bgnbd == BgNbdParams(0.243, 4.414, 0.793, 2.426)
    assert two.churn.gamma_gamma is not None and two.churn.gamma_gamma.q == 3.74
    assert two.rfm == RfmConfig(5.0, 20.0, 2, 50.0)


def test_a_static_model_stays_for_the_parts_a_version_does_not_carry() -> None:
    static = ChurnConfig(bgnbd=BgNbdParams(1.0, 2.0, 3.0, 4.0), clv_months=6)
    models = ModelVersions(static, RfmConfig(), 4)
    models.apply(ProfileModel(1, 0, RFM, gamma_gamma=GG))
    churn = models.at(0).churn
    assert (churn.bgnbd, churn.clv_months) == (static.bgnbd, 6)
    assert churn.gamma_gamma is not None and churn.gamma_gamma.p == 6.25


def test_equal_times_go_to_the_higher_version_and_a_repeat_keeps_the_earlier_time() -> None:
    models = _versions()
    models.apply(ProfileModel(3, 100, RFM))
    models.apply(ProfileModel(2, 100, RfmThresholds(1.0, 2.0, 2, 1.0)))
    assert models.at(100).version == 3
    models.apply(ProfileModel(3, 900, RFM))  # published again later (a restart): no change
    models.apply(ProfileModel(2, 50, RfmThresholds(1.0, 2.0, 2, 1.0)))  # earlier: moves
    assert len(models) == 2
    assert [models.at(t).version for t in (49, 50, 99, 100)] == [0, 2, 2, 3]


def test_versions_are_capped_to_the_newest_by_event_time_whatever_the_arrival() -> None:
    arrivals = [ProfileModel(v, v * 1_000, RFM) for v in (1, 2, 3, 4, 5)]
    first, second = _versions(cap=3), _versions(cap=3)
    for model in arrivals:
        first.apply(model)
    for model in reversed(arrivals):  # the older ones arrive last and fall off at once
        second.apply(model)
    assert first.snapshot() == second.snapshot()
    assert len(first) == 3
    assert [first.at(t).version for t in (2_500, 3_000, 9_000)] == [0, 3, 5]


def test_max_model_versions_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"ProfilesConfig\.max_model_versions must be > 0"):
        ProfilesConfig(max_model_versions=0)


@pytest.mark.parametrize("build, message", [
    (lambda: BgNbdModel(0.0, 1.0, 1.0, 1.0), "BgNbdModel.r must be finite and > 0"),
    (lambda: GammaGammaModel(1.0, float("nan"), 1.0), "GammaGammaModel.q must be finite"),
    (lambda: RfmThresholds(5.0, 5.0, 3, 1.0), "recent_days < lapsed_days"),
    (lambda: RfmThresholds(5.0, 9.0, 1, 1.0), "frequent_orders must be >= 2, got 1"),
    (lambda: ProfileModel(0, 0, RFM), "ProfileModel.version must be >= 1, got 0"),
])
def test_a_bad_version_is_refused_where_it_is_made(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_a_bad_version_on_the_wire_is_a_validation_error() -> None:
    raw = (b'{"version":1,"validFromMs":0,"rfm":{"recentDays":9.0,"lapsedDays":3.0,'
           b'"frequentOrders":3,"highValue":1.0}}')
    with pytest.raises(msgspec.ValidationError, match="recent_days < lapsed_days"):
        msgspec.json.decode(raw, type=ProfileModel)


# -- through the operator ----------------------------------------------------------------
def _buyer(user: str, start: int, orders: int, price: float) -> list[ShopperEvent]:
    """``orders`` orders a day apart from ``start`` (30 s into a minute)."""
    return [ev("PURCHASE", start + k * DAY + 30_000, f"{user}-s{k}", user_id=user,
               order_id=f"{user}-o{k}", items=(Item("p", category="Toys", price=price),))
            for k in range(orders)]


def _run(events: list[ShopperEvent], versions: list[ProfileModel],
         config: ProfilesConfig | None = None) -> list[Output]:
    topo = Topology(profile_stages(config or ProfilesConfig()), ("profiles",))
    operator = topo.stages[1].operator
    for model in versions:
        operator.process_broadcast(model, None)  # type: ignore[arg-type]
    out: list[Output] = []
    engine = Engine(topo, 5_000, out.append)
    for event in sorted(events, key=lambda e: e.timestamp_ms):
        engine.offer(event)
        engine.drain()
    engine.advance(max(e.timestamp_ms for e in events) + 10 * 60_000)
    return out


def _at(outputs: list[Output], user: str, computed_at: int) -> Any:
    found = [o.record for o in outputs if o.key == user and o.record.computed_at == computed_at]
    assert len(found) == 1, [o.record.computed_at for o in outputs if o.key == user]
    return found[0]


def test_a_profile_uses_the_version_in_force_at_its_event_time() -> None:
    events = _buyer("u1", 0, 3, 40.0)  # orders at 30 s, day 1 + 30 s, day 2 + 30 s
    refit = ProfileModel(7, DAY, RfmThresholds(1.0, 5.0, 2, 50.0), BG, GG)
    out = _run(events, [refit])
    first, second, third = (_at(out, "u1", k * DAY + 60_000) for k in range(3))
    assert (first.model_version, first.lifetime.model, first.lifetime.clv) == (0, "default",
                                                                               None)
    assert first.rfm_segment == "new"  # default thresholds: recent, one order
    assert (second.model_version, second.lifetime.model) == (7, "bgnbd")
    assert second.lifetime.clv is not None
    # Refitted thresholds: 2 orders are frequent, 80.0 >= 50.0 valuable, recent: champion.
    assert second.rfm_segment == third.rfm_segment == "champion"


def test_the_static_thresholds_and_an_equal_version_give_the_same_segment() -> None:
    events = _buyer("u1", 0, 2, 40.0)
    static = _run(events, [], ProfilesConfig(rfm=RfmConfig(1.0, 5.0, 2, 50.0)))
    published = _run(events, [ProfileModel(1, 0, RfmThresholds(1.0, 5.0, 2, 50.0))])
    assert [p.record.rfm_segment for p in static] == [p.record.rfm_segment for p in published]
    assert [p.record.model_version for p in published] == [1, 1]


def test_no_order_no_rfm_segment() -> None:
    out = _run([ev("PAGE_VIEW", 30_000, "s1", user_id="u1")], [ProfileModel(1, 0, RFM)])
    assert (out[0].record.rfm_segment, out[0].record.model_version) == (None, 1)


@pytest.mark.parametrize("recent, lapsed, frequent, value, segment", [
    (2.0, 3.0, 5, 500.0, "new"),               # 2 days since the order = recent (inclusive)
    (1.999, 3.0, 5, 500.0, "needs_attention"),  # just past recent, not lapsed
    (1.0, 2.0, 5, 500.0, "needs_attention"),    # = lapsed is not lapsed yet
    (1.0, 1.999, 5, 500.0, "hibernating"),      # just past lapsed
    (1.0, 1.999, 5, 40.0, "at_risk"),           # lapsed and valuable (40.0 >= 40.0)
    (2.0, 3.0, 5, 40.0, "new"),                 # one order: new even when valuable
    (1.0, 1.5, 2, 40.01, "hibernating"),        # 40.0 < 40.01 and one order < 2
])
def test_rfm_segment_bounds_at_the_emission_time(recent: float, lapsed: float,
                                                 frequent: int, value: float,
                                                 segment: str) -> None:
    # One order of 40.0 at 60 s (a slot end); a page view whose slot ends exactly two days
    # later: the profile emitted then has its last order 2.0 days old.
    order = ev("PURCHASE", 60_000, "s0", user_id="u1", order_id="o1",
               items=(Item("p", price=40.0),))
    emitted_at = 60_000 + 2 * DAY
    view = ev("PAGE_VIEW", emitted_at - 30_000, "s1", user_id="u1")
    out = _run([order, view], [ProfileModel(1, 0, RfmThresholds(recent, lapsed, frequent,
                                                                 value))])
    assert _at(out, "u1", emitted_at).rfm_segment == segment


def test_versions_are_kept_in_checkpoints_and_a_resumed_run_uses_them() -> None:
    events = sorted(_buyer("u1", 0, 3, 40.0) + _buyer("u2", 3_000_000, 3, 150.0),
                    key=lambda e: e.timestamp_ms)
    versions = [ProfileModel(1, DAY, RFM, BG), ProfileModel(2, 2 * DAY, RFM, BG, GG)]
    whole = _run(events, versions)

    topo = Topology(profile_stages(ProfilesConfig()), ("profiles",))
    for model in versions:
        topo.stages[1].operator.process_broadcast(model, None)  # type: ignore[arg-type]
    out: list[Output] = []
    engine = Engine(topo, 5_000, out.append)
    half = len(events) // 2
    for event in events[:half]:
        engine.offer(event)
        engine.drain()
    saved = pickle.loads(pickle.dumps(engine.snapshot()))
    assert saved["stages"]["customer-profiles"]["broadcast"] is not None

    topo2 = Topology(profile_stages(ProfilesConfig()), ("profiles",))
    resumed = Engine(topo2, 5_000, out.append)
    resumed.restore(saved)
    operator = topo2.stages[1].operator
    assert isinstance(operator, CustomerProfileOperator)
    assert operator.models.snapshot() == topo.stages[1].operator.snapshot_broadcast()
    for event in events[half:]:
        resumed.offer(event)
        resumed.drain()
    resumed.advance(max(e.timestamp_ms for e in events) + 10 * 60_000)
    assert [o.record for o in out] == [o.record for o in whole]
    assert {o.record.model_version for o in out} == {0, 1, 2}


def test_without_versions_nothing_is_checkpointed_for_the_broadcast() -> None:
    assert CustomerProfileOperator().snapshot_broadcast() is None


def test_other_broadcast_records_are_ignored() -> None:
    operator = CustomerProfileOperator()
    assert list(operator.process_broadcast("not a model", None)) == []  # type: ignore[arg-type]
    assert len(operator.models) == 0
