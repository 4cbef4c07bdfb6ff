"""What reaches a profile from beyond the click stream: brands on events and items, the
shop database's customer changes (``CUSTOMER_CHANGE``), and the simulator's brands."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from helpers import ev

from shopstream.connectors.cdc_mapping import ChangeMapper, RowChange, Transaction
from shopstream.events import Item, ShopperEvent
from shopstream.events.decode import EventDecoder
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import by_resolved_user, profile_stages
from shopstream.profiles.preferences import PreferencesConfig
from shopstream.runners.embedded.harness import run_topology
from shopstream.sim import SimulationConfig
from shopstream.sim.engine import Simulation
from shopstream.topology import Topology

MIN = 60_000


def run(events: list[ShopperEvent], config: ProfilesConfig | None = None) -> list[Output]:
    topo = Topology(profile_stages(config or ProfilesConfig()), ("profiles",
                                                                 "segment-changes"))
    return run_topology(topo, sorted(events, key=lambda e: e.timestamp_ms))


def last_profiles(outputs: list[Output]) -> dict[str, Any]:
    return {o.key: o.record for o in outputs if o.stream == "profiles"}


def account(ts: int, user: str, **fields: Any) -> ShopperEvent:
    return ev("CUSTOMER_CHANGE", ts, "pg-catalog", user_id=user, **fields)


# -- brands -----------------------------------------------------------------------------------
def test_brands_are_weighted_and_decayed_like_categories() -> None:
    day = 86_400_000
    config = ProfilesConfig(preferences=PreferencesConfig(half_life_ms=day))
    events = [
        ev("VIEW_PRODUCT", 0, "s1", user_id="u1", product_id="a", category="Phones",
           brand="Acme", price=100.0),
        ev("ADD_TO_CART", 1_000, "s1", user_id="u1", product_id="b", category="Phones",
           brand="Zed", price=20.0),
        # A day later (one half-life): the old weights have halved.
        ev("PURCHASE", day, "s2", user_id="u1", order_id="o1",
           items=(Item("c", category="Cases", price=5.0, brand="Acme"),
                  Item("d", category="Cases", price=5.0))),   # no brand: no weight
    ]
    prefs = last_profiles(run(events, config))["u1"].preferences
    # Acme: 1 (view) / 2 + 5 (bought) = 5.5; Zed: 3 (add) / 2 = 1.5 (total 7).
    assert prefs["brand"] == [("Acme", round(5.5 / 7, 4)), ("Zed", round(1.5 / 7, 4))]
    # The same weights as the categories of the same touches (Cases bought twice).
    assert prefs["category"] == [("Cases", round(10 / 12, 4)), ("Phones", round(2 / 12, 4))]


def test_without_brands_the_profile_has_no_brand_dimension() -> None:
    events = [ev("VIEW_PRODUCT", 0, "s1", user_id="u1", product_id="a", category="Toys")]
    assert "brand" not in last_profiles(run(events))["u1"].preferences


def test_brand_travels_on_the_wire_and_stays_absent_when_absent() -> None:
    decoder = EventDecoder()
    line = (b'{"eventType":"PURCHASE","timestamp":5,"sessionId":"s","orderId":7,'
            b'"items":[{"productId":1,"brand":"Acme"},{"productId":"2"}],"brand":"Zed"}')
    event = decoder.decode(line)  # the permissive path: numeric ids
    assert event.brand == "Zed"
    assert [i.brand for i in event.items or ()] == ["Acme", None]
    assert b"brand" not in msgspec.json.encode(ev("VIEW_PRODUCT", 5, "s", product_id="p"))
    canonical = msgspec.json.encode(event)
    assert decoder.decode(canonical) == event


def test_the_simulator_emits_each_products_brand() -> None:
    sim = Simulation(SimulationConfig(sessions=40, seed=3, end_ms=1_700_000_000_000))
    events = [e for batch in sim.event_batches() for e in batch]
    brands = {p.product_id: p.brand for p in sim.catalog.products}
    with_product = [e for e in events if e.product_id]
    assert with_product and all(e.brand == brands[e.product_id] for e in with_product)
    items = [i for e in events for i in e.items or ()]
    assert items and all(i.brand == brands[i.product_id] for i in items)
    assert all(e.brand is None for e in events if not e.product_id)


def _tx(*changes: RowChange, xid: int = 9) -> Transaction:
    return Transaction(xid, 0, 1_767_261_600_000, changes)


def test_cdc_events_carry_a_brand_only_when_the_products_table_has_one() -> None:
    mapper = ChangeMapper()
    mapper.map(_tx(RowChange("insert", "categories", {"id": 1, "name": "Tea"})))
    branded = {"id": 12, "name": "Sencha", "category_id": 1, "price": 4.5, "stock": 3,
               "brand": " Leafy ", "updated_at": "2026-01-01 09:00:00+00"}
    plain = {"id": 13, "name": "Oolong", "category_id": 1, "price": 5.5, "stock": 3,
             "updated_at": "2026-01-01 09:00:00+00"}
    changes = mapper.map(_tx(RowChange("insert", "products", branded),
                             RowChange("insert", "products", plain)))
    assert [(e.product_id, e.brand) for e in changes if isinstance(e, ShopperEvent)] == [
        ("12", "Leafy"), ("13", None)]
    cart = {"id": 5, "customer_id": 3, "session_id": "s1", "product_id": 12, "quantity": 1,
            "unit_price": 4.5, "updated_at": "2026-01-01 09:59:59+00"}
    [add] = mapper.map(_tx(RowChange("insert", "carts", cart)))
    assert isinstance(add, ShopperEvent) and add.brand == "Leafy"


# -- customer changes -------------------------------------------------------------------------
def test_a_customer_change_becomes_the_profiles_account() -> None:
    events = [
        ev("VIEW_PRODUCT", 1_000, "s1", user_id="7", product_id="p", category="Toys"),
        account(10_000, "7", country="DE", region="Berlin", device="mobile",
                platform="ios"),
        account(2 * MIN, "7", country="FR", region="Paris", device="desktop",
                platform="web"),
    ]
    outs = run(events)
    accounts = [o.record.account for o in outs if o.stream == "profiles"]
    assert [(a.updated_at, a.country, a.region, a.device, a.platform) for a in accounts] == [
        (10_000, "DE", "Berlin", "mobile", "ios"), (2 * MIN, "FR", "Paris", "desktop", "web")]
    last = last_profiles(outs)["7"]
    # Not shopper activity: one event, one session, the view's time only.
    assert (last.events, last.sessions.sessions, last.first_seen, last.last_seen) == (
        1, 1, 1_000, 1_000)
    assert set(last.preferences) == {"category", "hour", "weekday"}  # no device from it


def test_the_newest_customer_record_wins_whatever_the_arrival_order() -> None:
    newer = account(30_000, "7", country="FR")
    older = account(20_000, "7", country="DE")
    topo = Topology(profile_stages(ProfilesConfig()), ("profiles",))
    for order in ([older, newer], [newer, older]):
        # Both within the watermark bound: the engine may take them in either order.
        outs = run_topology(topo, order, out_of_orderness_ms=20_000)
        assert [o.record.account.country for o in outs] == ["FR"]
    # Catalog changes are never late: an old record that comes after the watermark passed
    # a newer one takes effect then, and must not replace it.
    later = [newer, ev("VIEW_PRODUCT", 10 * MIN, "s1", user_id="7", product_id="p"), older]
    outs = run_topology(topo, later)
    assert [(o.record.computed_at, o.record.account.updated_at) for o in outs] == [
        (MIN, 30_000), (10 * MIN, 30_000)]


def test_a_customer_without_events_gets_a_profile_and_product_changes_none() -> None:
    events = [account(0, "8", country="US", region="CA"),
              ev("PRODUCT_CHANGE", 0, "pg-catalog", user_id="pg-catalog", product_id="12",
                 quantity=0)]
    profiles = last_profiles(run(events))
    assert set(profiles) == {"8"}
    assert (profiles["8"].events, profiles["8"].segment) == (0, "browser")
    assert profiles["8"].account.country == "US"


def test_catalog_changes_are_keyed_by_customer_or_spread_by_product() -> None:
    keys = {by_resolved_user(ev("PRODUCT_CHANGE", 0, "pg-catalog", user_id="pg-catalog",
                                product_id=str(p))) for p in range(50)}
    assert len(keys) == 50  # no hot key
    assert by_resolved_user(account(0, "42")) == "42"


def test_customer_rows_from_the_mapper_reach_the_profile() -> None:
    mapper = ChangeMapper()
    row = {"id": 3, "email": "a@b.c", "first_name": "A", "last_name": "B", "country": "SE",
           "region": "Skane", "device": "tablet", "platform": "android",
           "updated_at": "2026-01-01 10:00:00+00"}
    events = [e for e in mapper.map(_tx(RowChange("update", "customers", row)))
              if isinstance(e, ShopperEvent)]
    events.append(ev("VIEW_PRODUCT", events[0].timestamp_ms + 1_000, "s9", user_id="3",
                     product_id="p"))
    profile = last_profiles(run(events))["3"]
    assert (profile.account.country, profile.account.region, profile.account.device,
            profile.account.platform) == ("SE", "Skane", "tablet", "android")
    assert profile.events == 1


@pytest.mark.parametrize("field", ["max_trend_categories", "max_trend_versions",
                                   "trend_max_age_ms"])
def test_config_rejects_non_positive_trend_caps(field: str) -> None:
    from shopstream.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        ProfilesConfig(**{field: 0})
