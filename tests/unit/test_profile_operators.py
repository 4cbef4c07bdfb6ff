"""Customer 360 operators: identity merging without double counting, order dedup, caps."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.events import Item, ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import profile_stages
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_topology
from shopstream.topology import Topology

MIN = 60_000


def run(events: list[ShopperEvent], config: ProfilesConfig | None = None,
        streams: tuple[str, ...] = ("profiles", "segment-changes")) -> list[Output]:
    topo = Topology(profile_stages(config or ProfilesConfig()), streams)
    return run_topology(topo, sorted(events, key=lambda e: e.timestamp_ms))


def last_profiles(outputs: list[Output]) -> dict[str, Any]:
    return {o.key: o.record for o in outputs if o.stream == "profiles"}


def test_anonymous_events_before_login_count_once_for_the_user() -> None:
    events = [
        ev("VIEW_PRODUCT", 0, "s1", product_id="p1", category="Books", price=20.0),
        ev("ADD_TO_CART", 10_000, "s1", product_id="p1", price=20.0),
        ev("PAGE_VIEW", 20_000, "s1", user_id="u1"),          # login
        ev("VIEW_PRODUCT", 30_000, "s1", product_id="p2"),    # still no user id on it
    ]
    profiles = last_profiles(run(events))
    assert set(profiles) == {"u1"}                     # no anonymous profile for s1
    u1 = profiles["u1"]
    assert (u1.events, u1.merged_sessions, u1.sessions.sessions, u1.cart_items) == (4, 1, 1, 1)
    assert u1.sessions.pages_per_session == 3.0         # 2 views + 1 page, the add is no page


def test_an_anonymous_session_without_login_is_its_own_profile() -> None:
    events = [ev("VIEW_PRODUCT", 0, "anon", product_id="p"),
              ev("VIEW_PRODUCT", 5_000, "anon", product_id="q")]
    profiles = last_profiles(run(events))
    assert set(profiles) == {"anon"}
    assert (profiles["anon"].events, profiles["anon"].merged_sessions) == (2, 0)


def test_two_devices_of_one_user_make_one_profile_with_two_sessions() -> None:
    events = [ev("VIEW_PRODUCT", 0, "phone", product_id="p", device="mobile"),
              ev("PAGE_VIEW", 1_000, "phone", user_id="u1", device="mobile"),
              ev("VIEW_PRODUCT", 2_000, "laptop", user_id="u1", product_id="q",
                 device="desktop"),
              ev("PURCHASE", 3_000, "laptop", user_id="u1", order_id="o1", price=30.0)]
    u1 = last_profiles(run(events))["u1"]
    assert (u1.events, u1.sessions.sessions, u1.orders, u1.merged_sessions) == (4, 2, 1, 1)
    assert dict(u1.preferences["device"]) == {"mobile": 0.6667, "desktop": 0.3333}


def test_one_order_seen_from_web_and_cdc_counts_once() -> None:
    items = (Item("p", category="Toys", price=10.0, quantity=2),)
    events = [ev("PURCHASE", 0, "web-s", user_id="u1", order_id="42", items=items),
              ev("PURCHASE", 1_000, "pg-customer-7", user_id="u1", order_id="42",
                 items=items),
              ev("PURCHASE", 2_000, "web-s", user_id="u1", order_id="43", items=items)]
    u1 = last_profiles(run(events))["u1"]
    assert (u1.orders, u1.revenue, u1.avg_order_value) == (2, 40.0, 20.0)


def test_held_anonymous_events_are_capped_and_the_rest_stay_anonymous() -> None:
    config = ProfilesConfig(max_held_events=2)
    events = [ev("PAGE_VIEW", t * 1_000, "s1") for t in range(4)]
    events.append(ev("PAGE_VIEW", 10_000, "s1", user_id="u1"))
    profiles = last_profiles(run(events, config))
    # The first two waited for the login; the next two went on under the session id.
    assert (profiles["u1"].events, profiles["s1"].events) == (3, 2)


def test_open_sessions_are_capped_per_shopper() -> None:
    config = ProfilesConfig(max_open_sessions=2)
    events = [ev("PAGE_VIEW", t * 1_000, f"s{t}", user_id="u1") for t in range(5)]
    engine = Engine(Topology(profile_stages(config), ("profiles",)), 5_000, lambda o: None)
    for e in events:
        engine.offer(e)
    engine.advance(60_000)  # the end of their slot
    profile_state = engine.contexts[1].backend.snapshot()["profile"]["u1"]
    assert len(profile_state.sessions) <= 2
    assert profile_state.totals.sessions + len(profile_state.sessions) == 5


def test_segment_changes_are_emitted_only_when_the_segment_moves() -> None:
    events = [ev("VIEW_PRODUCT", t * MIN, "s1", user_id="u1", product_id="p")
              for t in range(3)]
    events += [ev("PURCHASE", 3 * MIN, "s1", user_id="u1", order_id="o1", price=9.0)]
    changes = [(o.record.previous, o.record.segment) for o in run(events)
               if o.stream == "segment-changes"]
    assert changes == [(None, "browser"), ("browser", "price_sensitive"),
                       ("price_sensitive", None)]


def test_the_state_of_an_idle_shopper_is_dropped() -> None:
    config = ProfilesConfig(user_idle_ms=10 * MIN, anonymous_idle_ms=MIN)
    topo = Topology(profile_stages(config), ("profiles",))
    engine = Engine(topo, 5_000, lambda o: None)
    engine.offer(ev("PAGE_VIEW", 0, "s1", user_id="u1"))
    engine.offer(ev("PAGE_VIEW", 3_600_000, "s9", user_id="u9"))
    engine.offer(ev("PAGE_VIEW", 3_700_000, "s9", user_id="u9"))  # releases the one before
    engine.drain()
    stage = topo.stage_names().index("customer-profiles")
    snapshot = engine.contexts[stage].backend.snapshot()  # {descriptor: {key: value}}
    assert set(snapshot["profile"]) == {"u9"}


@pytest.mark.parametrize("field", ["session_gap_ms", "max_held_events", "segment_groups"])
def test_config_rejects_non_positive_caps(field: str) -> None:
    with pytest.raises(ConfigError, match=f"ProfilesConfig.{field} must be > 0, got 0"):
        ProfilesConfig(**{field: 0})
