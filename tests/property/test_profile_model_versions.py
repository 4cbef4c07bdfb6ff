"""Property: the profiles do not depend on when the ``profile-models`` versions arrive.

Versions may come in any order and at any point, as long as each arrives before the
watermark passes the time it holds from (the broadcast contract: an update stamped at
``t`` is seen by everything at or after ``t``). Every such schedule gives the profiles a
run with all versions known from the start gives; and the versions held at the end are
the same whatever the arrival order.
"""

from __future__ import annotations

from helpers import ev
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import Item, ShopperEvent
from shopstream.events.profile_models import (
    BgNbdModel,
    GammaGammaModel,
    ProfileModel,
    RfmThresholds,
)
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.pipeline import profile_stages
from shopstream.runners.embedded.engine import Engine
from shopstream.topology import Topology

BOUND = 5_000
HOUR = 3_600_000
#: As many as a run receives: a version pushed out early could have answered meanwhile
#: (the cap's own order-independence is a unit test).
CAP = 5


@st.composite
def orders(draw: st.DrawFn) -> list[ShopperEvent]:
    """Views and purchases of two users over a few days."""
    count = draw(st.integers(1, 25))
    events, ts = [], 0
    for i in range(count):
        ts += draw(st.integers(1, 20 * HOUR))
        user = draw(st.sampled_from(["u1", "u2"]))
        if draw(st.booleans()):
            price = draw(st.sampled_from([10.0, 60.0, 250.0]))
            events.append(ev("PURCHASE", ts, f"{user}-{i}", user_id=user, order_id=f"o{i}",
                             items=(Item("p", category="Toys", price=price),)))
        else:
            events.append(ev("VIEW_PRODUCT", ts, f"{user}-{i}", user_id=user,
                             product_id="p"))
    return events


@st.composite
def versions(draw: st.DrawFn) -> list[ProfileModel]:
    count = draw(st.integers(1, 5))
    out = []
    for version in range(1, count + 1):
        recent = draw(st.sampled_from([0.5, 2.0, 10.0]))
        fitted = draw(st.booleans())
        out.append(ProfileModel(
            version, draw(st.integers(0, 150)) * HOUR,
            RfmThresholds(recent, recent * 3, draw(st.integers(2, 4)),
                          draw(st.sampled_from([50.0, 200.0]))),
            BgNbdModel(0.24 * version, 4.4, 0.79, 2.4) if fitted else None,
            GammaGammaModel(6.25, 3.74, 15.4) if fitted and version % 2 else None))
    return out


def _run(events: list[ShopperEvent], models: list[ProfileModel],
         arrive_before: list[int]) -> tuple[list[Output], list[bytes] | None]:
    """Offer the events in time order; version ``k`` arrives just before event
    ``arrive_before[k]`` is offered (``len(events)``: after the last one)."""
    topo = Topology(profile_stages(ProfilesConfig(max_model_versions=CAP)), ("profiles",))
    operator = topo.stages[1].operator
    assert isinstance(operator, CustomerProfileOperator)
    out: list[Output] = []
    engine = Engine(topo, BOUND, out.append)
    for index in range(len(events) + 1):
        for model, when in zip(models, arrive_before, strict=True):
            if when == index:
                assert engine.watermark_ms < model.valid_from_ms
                operator.process_broadcast(model, engine.contexts[1])
        if index < len(events):
            engine.offer(events[index])
            engine.drain()
    engine.advance(events[-1].timestamp_ms + HOUR)
    return out, operator.snapshot_broadcast()


@settings(max_examples=60, deadline=None)
@given(orders(), versions(), st.data())
def test_any_arrival_schedule_gives_the_same_profiles(events: list[ShopperEvent],
                                                      models: list[ProfileModel],
                                                      data: st.DataObject) -> None:
    # The last moment version k may arrive: before the first event that would move the
    # watermark (newest time - bound - 1) to its time or past it.
    deadlines = [next((i for i, e in enumerate(events)
                       if e.timestamp_ms - BOUND - 1 >= m.valid_from_ms), len(events))
                 for m in models]
    schedule = [data.draw(st.integers(0, d)) for d in deadlines]
    order = data.draw(st.permutations(range(len(models))))
    shuffled = [models[k] for k in order]
    expected, held = _run(events, models, [0] * len(models))
    got, got_held = _run(events, shuffled, [schedule[k] for k in order])
    assert [(o.key, o.record) for o in got] == [(o.key, o.record) for o in expected]
    assert got_held == held
