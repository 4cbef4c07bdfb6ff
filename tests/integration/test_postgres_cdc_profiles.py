"""Customer changes of the shop database reach the shopper's profile: a real PostgreSQL with
wal2json, the CDC source, the runner's decoder and the profile stages."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import pytest

from shopstream.connectors.postgres_cdc import PostgresCdcConfig, PostgresCdcSource
from shopstream.events.decode import EventDecoder
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import profile_stages
from shopstream.runners.embedded.harness import run_topology
from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, generate
from shopstream.topology import Topology

pytestmark = pytest.mark.integration


def _execute(dsn: str, *statements: tuple[str, tuple[Any, ...]]) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:  # one transaction
            for sql, args in statements:
                cur.execute(sql, args)
    finally:
        conn.close()


def _read(reader: Any, wanted: int, timeout_s: float = 15.0) -> list[bytes]:
    lines: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    for item in reader:
        if item is not None:
            lines.append(item[0])
            if len(lines) == wanted:
                break
        assert time.monotonic() < deadline, f"only {len(lines)} of {wanted} events arrived"
    return lines


def test_customer_changes_update_the_profiles_account(shop_dsn: str) -> None:
    schema.init(shop_dsn)
    generate(shop_dsn, GenerateConfig(categories=5, products=30, customers=5, seed=3))
    source = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="profiles_test",
                                                 tick_s=0.05))
    try:
        reader = source.read(None)
        next(reader)  # creates the slot; the first item is an idle tick
        # Customer 1 moves and changes device, then puts a product in the cart; a new
        # customer signs up and does nothing else.
        _execute(shop_dsn, ("UPDATE customers SET country = 'FR', region = 'Paris', "
                            "device = 'mobile', platform = 'ios' WHERE id = 1", ()))
        _execute(shop_dsn, ("INSERT INTO carts (customer_id, session_id, product_id, "
                            "quantity, unit_price) VALUES (1, 'web-1', 2, 1, 9.99)", ()))
        _execute(shop_dsn, ("INSERT INTO customers (id, email, first_name, last_name, "
                            "country, region) VALUES (100, 'new@example.com', 'N', 'C', "
                            "'SE', 'Skane')", ()))
        lines = _read(reader, 3)
    finally:
        source.close()
    decoder = EventDecoder()
    events = [decoder.decode(line) for line in lines]
    assert [e.event_type.value for e in events] == ["CUSTOMER_CHANGE", "ADD_TO_CART",
                                                    "CUSTOMER_CHANGE"]
    topology = Topology(profile_stages(ProfilesConfig()), ("profiles",))
    profiles = {o.key: o.record for o in run_topology(topology, events)}
    assert set(profiles) == {"1", "100"}
    one = profiles["1"].account
    assert (one.country, one.region, one.device, one.platform) == ("FR", "Paris", "mobile",
                                                                    "ios")
    assert one.updated_at == events[0].timestamp_ms
    assert (profiles["1"].events, profiles["1"].cart_items) == (1, 1)
    new = profiles["100"]
    assert (new.events, new.account.country, new.account.region, new.account.device,
            new.account.platform) == (0, "SE", "Skane", "desktop", "web")  # column defaults
