"""The shop database's read API (``/shop``) through a real HTTP client, against uvicorn
on a free port and a throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, generate
from shopstream.shopdb.simulate import SimulateConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture
def shop_api(shop_dsn: str, tmp_path: Path) -> Iterator[httpx.Client]:
    schema.init(shop_dsn)
    generate(shop_dsn, GenerateConfig(categories=6, products=40, customers=30, seed=3))
    simulate(shop_dsn, SimulateConfig(sessions=80, historical_days=10, seed=2))
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          postgres=shop_dsn))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


def test_every_table_is_served_page_by_page(shop_api: httpx.Client, shop_dsn: str) -> None:
    counts = schema.table_counts(shop_dsn)
    for path, table in (("categories", "categories"), ("products", "products"),
                        ("customers", "customers"), ("carts", "carts"),
                        ("wishlist", "wishlist"), ("orders", "orders"),
                        ("order-items", "order_items"), ("payments", "payments")):
        ids: list[int] = []
        url: str | None = f"/shop/{path}?limit=7"
        while url is not None:
            reply = shop_api.get(url)
            assert reply.status_code == 200, (url, reply.text)
            body = reply.json()
            assert len(body["data"]) <= 7
            ids.extend(row["id"] for row in body["data"])
            url = body["next"]
        assert len(ids) == len(set(ids)) == counts[table] > 0, path
        assert ids == sorted(ids)


def test_filters_carry_over_to_the_next_pages(shop_api: httpx.Client, shop_dsn: str) -> None:
    import psycopg2

    conn = psycopg2.connect(shop_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE status = 'delivered'")
        delivered = cur.fetchone()[0]  # type: ignore[index]
    conn.close()
    statuses: list[str] = []
    url: str | None = "/shop/orders?limit=3&status=delivered"
    while url is not None:
        body = shop_api.get(url).json()
        statuses.extend(o["status"] for o in body["data"])
        url = body["next"]
    assert statuses == ["delivered"] * delivered and delivered > 3


def test_an_order_comes_with_its_items_and_money_as_numbers(shop_api: httpx.Client) -> None:
    first = shop_api.get("/shop/orders", params={"limit": 1}).json()["data"][0]
    order = shop_api.get(f"/shop/orders/{first['id']}").json()
    assert isinstance(order["total"], float)
    assert order["items"] and all(i["order_id"] == order["id"] for i in order["items"])
    assert round(sum(i["price"] * i["quantity"] for i in order["items"]), 2) == order["total"]
    mine = shop_api.get("/shop/orders", params={"customer_id": order["customer_id"]}).json()
    assert {o["customer_id"] for o in mine["data"]} == {order["customer_id"]}
    product = shop_api.get(f"/shop/products/{order['items'][0]['product_id']}").json()
    assert product["sku"].startswith("P") and isinstance(product["price"], float)
    assert isinstance(product["brand"], str) and product["brand"]  # the generator's brand


def test_unknown_ids_bad_pages_and_docs(shop_api: httpx.Client) -> None:
    missing = shop_api.get("/shop/orders/999999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no order with id 999999"
    assert shop_api.get("/shop/customers", params={"limit": 0}).status_code == 422
    assert shop_api.get("/shop/customers", params={"limit": 501}).status_code == 422
    paths = shop_api.get("/openapi.json").json()["paths"]
    assert {"/shop/orders", "/shop/orders/{order_id}", "/shop/order-items",
            "/shop/wishlist", "/shop/payments", "/shop/carts"} <= set(paths)
    assert shop_api.get("/docs").status_code == 200


def test_without_a_database_the_shop_api_says_how_to_get_one(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0))
    server.start()
    try:
        reply = httpx.get(server.url + "/shop/products", timeout=5)
    finally:
        server.stop()
    assert reply.status_code == 503
    assert "--postgres" in reply.json()["detail"]
