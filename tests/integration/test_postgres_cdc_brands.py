"""Brands from the shop database: ``products.brand`` filled by the generator, carried by
change data capture on every product, cart and order event, into a profile's brand
preference. A real PostgreSQL with wal2json, the CDC source and the profile stages."""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

import psycopg2
import pytest

from shopstream.connectors.postgres_cdc import PostgresCdcConfig, PostgresCdcSource
from shopstream.events.decode import EventDecoder
from shopstream.events.model import EventType, ShopperEvent
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import profile_stages
from shopstream.runners.embedded.harness import run_topology
from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, catalog_of, generate
from shopstream.shopdb.simulate import SimulateConfig, simulate
from shopstream.topology import Topology

pytestmark = pytest.mark.integration

_SHOP = GenerateConfig(categories=5, products=30, customers=8, seed=3)


def _query(dsn: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:  # one transaction
            cur.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def _read(reader: Any, wanted: int, timeout_s: float = 15.0) -> list[ShopperEvent]:
    decoder = EventDecoder()
    events: list[ShopperEvent] = []
    deadline = time.monotonic() + timeout_s
    for item in reader:
        if item is not None:
            events.append(decoder.decode(item[0]))
            if len(events) == wanted:
                break
        assert time.monotonic() < deadline, f"only {len(events)} of {wanted} events arrived"
    return events


def _brands(dsn: str) -> dict[str, str | None]:
    return {str(pid): brand for pid, brand in _query(dsn, "SELECT id, brand FROM products")}


def test_a_generated_shops_orders_and_carts_carry_each_products_brand(shop_dsn: str) -> None:
    schema.init(shop_dsn)
    generate(shop_dsn, _SHOP)
    # The generator writes the catalog's brand beside each product.
    catalog = {p.product_id: p.brand for p in catalog_of(_SHOP).products}
    assert dict(_query(shop_dsn, "SELECT sku, brand FROM products")) == catalog
    brands = _brands(shop_dsn)
    source = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="brands_sim",
                                                 stop_when_idle_s=2.0, tick_s=0.05))
    try:
        reader = source.read(None)
        next(reader)  # creates the slot (and seeds the lookups); the first item is a tick
        done = simulate(shop_dsn, SimulateConfig(sessions=60, historical_days=2, seed=5))
        events = [EventDecoder().decode(item[0]) for item in reader if item is not None]
    finally:
        source.close()
    kinds = Counter(e.event_type for e in events)
    assert kinds[EventType.PURCHASE] == done.orders > 0
    assert kinds[EventType.ADD_TO_CART] > 0
    # Every event about a product names that product's brand, and so does every item.
    with_product = [e for e in events if e.product_id]
    assert with_product and all(e.brand == brands[e.product_id or ""] for e in with_product)
    items = [i for e in events for i in e.items or ()]
    assert items and all(i.brand == brands[i.product_id] for i in items)
    assert all(i.brand for i in items)
    # A profile built from the shop database alone leans to the brands its shopper bought.
    topology = Topology(profile_stages(ProfilesConfig()), ("profiles",))
    profiles = {o.key: o.record for o in run_topology(topology, events)}
    buyers = {e.user_id for e in events if e.event_type is EventType.PURCHASE}
    assert buyers and all(profiles[u].preferences.get("brand") for u in buyers)


def test_a_brand_change_reaches_later_events_and_the_profile(shop_dsn: str) -> None:
    schema.init(shop_dsn)
    generate(shop_dsn, _SHOP)
    before = _brands(shop_dsn)
    old_3, old_4 = before["3"], before["4"]
    assert old_3 and old_4 and "Northwind" not in (old_3, old_4)
    source = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="brands_change",
                                                 tick_s=0.05))
    try:
        reader = source.read(None)
        next(reader)
        _query(shop_dsn, "INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                         "unit_price) VALUES (1, 'web-1', 3, 1, 9.99)")
        _query(shop_dsn, "UPDATE products SET brand = 'Northwind' WHERE id = 3")
        _query(shop_dsn, "INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                         "unit_price) VALUES (1, 'web-1', 4, 1, 5.00)")
        _query(shop_dsn, "DELETE FROM carts WHERE session_id = 'web-1'; "
                         "INSERT INTO orders (id, customer_id, session_id, total, status) "
                         "VALUES (500, 1, 'web-1', 14.99, 'paid'); "
                         "INSERT INTO order_items (order_id, product_id, quantity, price) "
                         "VALUES (500, 3, 1, 9.99), (500, 4, 1, 5.00)")
        _query(shop_dsn, "UPDATE products SET brand = '  ' WHERE id = 4")  # blank: none
        _query(shop_dsn, "INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                         "unit_price) VALUES (1, 'web-2', 4, 1, 5.00)")
        events = _read(reader, 6)
    finally:
        source.close()
    assert [(e.event_type.value, e.product_id, e.brand) for e in events] == [
        ("ADD_TO_CART", "3", old_3),
        ("PRODUCT_CHANGE", "3", "Northwind"),
        ("ADD_TO_CART", "4", old_4),
        ("PURCHASE", None, None),
        ("PRODUCT_CHANGE", "4", None),
        ("ADD_TO_CART", "4", None)]
    assert [(i.product_id, i.brand) for i in events[3].items or ()] == [
        ("3", "Northwind"), ("4", old_4)]
    profile = {o.key: o.record for o in run_topology(
        Topology(profile_stages(ProfilesConfig()), ("profiles",)), events)}["1"]
    assert {b for b, _ in profile.preferences["brand"]} == {old_3, "Northwind", old_4}


def test_init_adds_the_brand_column_to_an_older_shop_and_cdc_works_without_it(
        shop_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    schema.init(shop_dsn)
    fresh = _query(shop_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                             "table_name = 'products' ORDER BY ordinal_position")
    assert fresh[-1] == ("brand",)
    # A shop created before the column: its products have no brand.
    _query(shop_dsn, "ALTER TABLE products DROP COLUMN brand; "
                     "INSERT INTO categories (id, name, slug) VALUES (1, 'Tea', 'tea'); "
                     "INSERT INTO products (id, sku, name, price, category_id) "
                     "VALUES (1, 'T-1', 'Sencha', 4.50, 1); "
                     "INSERT INTO customers (id, email, first_name, last_name, country, "
                     "region) VALUES (1, 'a@example.com', 'A', 'B', 'JP', 'Kyoto')")
    source = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="brands_old",
                                                 tick_s=0.05))
    try:
        with caplog.at_level(logging.WARNING, logger="shopstream.postgres"):
            reader = source.read(None)
            next(reader)
        assert "no brand column" in caplog.text
        _query(shop_dsn, "INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                         "unit_price) VALUES (1, 's', 1, 1, 4.50)")
        (add,) = _read(reader, 1)
    finally:
        source.close()
    assert (add.event_type, add.product_name, add.category, add.brand) == (
        EventType.ADD_TO_CART, "Sencha", "Tea", None)
    # init brings the table up to date: same columns, same order, the rows kept.
    schema.init(shop_dsn)
    schema.init(shop_dsn)  # and again: nothing more to do
    assert _query(shop_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                            "table_name = 'products' ORDER BY ordinal_position") == fresh
    assert _query(shop_dsn, "SELECT sku, name, brand FROM products") == [
        ("T-1", "Sencha", None)]
