"""``lake export`` against a real PostgreSQL: types kept, incremental by ``updated_at``,
updates and deletes seen, and the three shop reports equal to the same SQL run directly
on the server."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopstream.api.reports_routes import jsonable
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.cli import main
from shopstream.lake.export import ExportConfig, export, read_state
from shopstream.lake.export_compact import compact_tables
from shopstream.lake.query import query
from shopstream.lake.shop import SHOP_REPORTS
from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, generate
from shopstream.shopdb.simulate import SimulateConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(shop_dsn: str) -> str:
    schema.init(shop_dsn)
    generate(shop_dsn, GenerateConfig(categories=6, products=40, customers=30, seed=3))
    # Over 13 months, so the revenue report's 12-month window leaves some out.
    simulate(shop_dsn, SimulateConfig(sessions=260, historical_days=420, seed=2))
    return shop_dsn


def on_postgres(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn, options="-c timezone=UTC")
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def same_report(name: str, lake_rows: list[tuple[Any, ...]],
                pg_rows: list[tuple[Any, ...]]) -> None:
    """Equal cell by cell: ids, counts and money exactly; the rounded average within a
    cent (DuckDB averages decimals in double precision)."""
    assert len(lake_rows) == len(pg_rows) > 0, name
    for mine, theirs in zip(lake_rows, pg_rows, strict=True):
        assert len(mine) == len(theirs)
        for a, b in zip(mine[:-1], theirs[:-1], strict=True):
            assert a == b, (name, mine, theirs)
        if name == "products":
            assert mine[-1] == theirs[-1]
        else:
            assert abs(Decimal(str(mine[-1])) - b_dec(theirs[-1])) <= Decimal("0.01"), (
                name, mine, theirs)


def b_dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def check_reports(dsn: str, lake: Path) -> None:
    for name, sql in SHOP_REPORTS.items():
        _, mine = query(lake, sql)
        same_report(name, mine, on_postgres(dsn, sql))


def test_reports_over_the_exported_lake_equal_the_same_sql_on_postgres(
        shop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    # A shipment still on its way (the simulated history may hold none, depending on
    # today's date): its NULL delivered_at must come out as a null timestamp.
    on_postgres(shop, "UPDATE shipments SET delivered_at = NULL "
                      "WHERE id = (SELECT min(id) FROM shipments)")
    assert main(["lake", "export", "--postgres", shop, "--lake", str(lake), "--lag", "0",
                 "--json", "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out)
    counts = {t["table"]: t["rows"] for t in first["tables"]}
    assert counts["orders"] == on_postgres(shop, "SELECT count(*) FROM orders")[0][0] > 50
    check_reports(shop, lake)
    months = query(lake, SHOP_REPORTS["revenue"])[1]
    assert len(months) == 12  # 14 months of orders, the last 12 reported

    # Types: decimals, zoned timestamps, nullable integers stay integers.
    orders = pq.read_table(next((lake / "table=orders").glob("rows-*.parquet")))
    assert orders.schema.field("total").type == pa.decimal128(12, 2)
    assert orders.schema.field("order_date").type == pa.timestamp("us", tz="UTC")
    assert orders.schema.field("payment_id").type == pa.int64()
    shipments = pa.concat_tables(  # every export file: which holds an open shipment varies
        pq.read_table(f) for f in sorted((lake / "table=shipments").glob("rows-*.parquet")))
    assert shipments.schema.field("delivered_at").type == pa.timestamp("us", tz="UTC")
    assert shipments.column("delivered_at").null_count > 0
    assert orders.schema.metadata[b"shopstream.schema_version"] == b"1"

    # Nothing changed: nothing copied.
    again = export(shop, lake, ExportConfig(lag_s=0))
    assert again.rows == 0

    # An update, a delete (its items cascade) and a price change: only those rows move.
    on_postgres(shop, "UPDATE orders SET status = 'cancelled' WHERE id = "
                      "(SELECT min(id) FROM orders WHERE status <> 'cancelled')")
    on_postgres(shop, "DELETE FROM orders WHERE id = (SELECT max(id) FROM orders)")
    on_postgres(shop, "UPDATE products SET price = price + 1 WHERE id = 1")
    changed = export(shop, lake, ExportConfig(lag_s=0))
    by_table = {t.table: t.rows for t in changed.tables}
    assert by_table["orders"] == 1 and by_table["products"] == 1
    assert by_table["customers"] == 0 and changed.rows == 2
    check_reports(shop, lake)
    for table in ("orders", "order_items", "products", "carts"):
        mine = query(lake, f"SELECT count(*) FROM {table}")[1][0][0]
        assert mine == on_postgres(shop, f"SELECT count(*) FROM {table}")[0][0], table
    state = read_state(lake)
    assert state["tables"]["orders"]["seq"] == 2

    # Compaction: one file per table, holding what the views showed; the next export
    # goes on after it.
    views = {t: sorted(query(lake, f"SELECT * FROM {t}")[1], key=repr)
             for t in ("orders", "products")}
    done = compact_tables(lake)
    assert done.files_before > done.files_after == done.partitions > 0
    assert [f.name for f in (lake / "table=orders").glob("rows-*.parquet")] == [
        "rows-000002.parquet"]
    assert pq.read_schema(lake / "table=orders" / "rows-000002.parquet").equals(
        orders.schema, check_metadata=True)
    for table, rows in views.items():
        assert sorted(query(lake, f"SELECT * FROM {table}")[1], key=repr) == rows, table
    check_reports(shop, lake)
    on_postgres(shop, "UPDATE orders SET status = 'cancelled' WHERE id = "
                      "(SELECT min(id) FROM orders WHERE status <> 'cancelled')")
    assert export(shop, lake, ExportConfig(lag_s=0)).rows == 1
    assert read_state(lake)["tables"]["orders"]["seq"] == 3
    check_reports(shop, lake)

    # The command line: the report over the shop tables, as JSON.
    assert main(["report", "customers", "--source", "shop", "--lake", str(lake),
                 "--format", "json", "--limit", "3"]) == 0
    top = json.loads(capsys.readouterr().out)
    assert [r["customer_id"] for r in top] == [
        r[0] for r in on_postgres(shop, SHOP_REPORTS["customers"] + " LIMIT 3")]


def test_a_full_export_after_a_backfill_and_clear_errors(shop: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        ) -> None:
    lake = tmp_path / "lake"
    export(shop, lake, ExportConfig(lag_s=0, tables=("customers",)))
    # A backfill writing an old updated_at is not seen incrementally, but --full sees it.
    on_postgres(shop, "UPDATE customers SET region = 'Backfilled', "
                      "updated_at = '2001-01-01Z' WHERE id = 2")
    assert export(shop, lake, ExportConfig(lag_s=0, tables=("customers",))).rows == 0
    assert main(["lake", "export", "--postgres", shop, "--lake", str(lake), "--lag", "0",
                 "--table", "customers", "--full", "--no-progress"]) == 0
    assert query(lake, "SELECT region FROM customers WHERE id = 2")[1] == [("Backfilled",)]
    capsys.readouterr()
    assert main(["lake", "export", "--postgres", "postgresql://nobody@127.0.0.1:1/x",
                 "--lake", str(lake), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "PostgreSQL at" in err and "Traceback" not in err
    assert main(["report", "revenue", "--source", "shop", "--lake", str(tmp_path)]) == 1
    assert "lake export" in capsys.readouterr().err


def test_the_api_serves_the_reports_of_the_lake(shop: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    export(shop, lake, ExportConfig(lag_s=0))
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          lake=str(lake)))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for name, sql in SHOP_REPORTS.items():
                body = client.get(f"/reports/{name}", params={"source": "shop"}).json()
                expected = on_postgres(shop, sql)
                assert len(body["rows"]) == len(expected) and not body["truncated"]
                for got, want in zip(body["rows"], expected, strict=True):
                    assert next(iter(got)) == body["columns"][0]
                    assert got[body["columns"][0]] == jsonable(want[0])
                    assert got[body["columns"][-2]] == jsonable(want[-2])
            short = client.get("/reports/products", params={"source": "shop", "limit": 2})
            assert len(short.json()["rows"]) == 2 and short.json()["truncated"]
            events = client.get("/reports/revenue").json()
            assert events["rows"] == [] and events["columns"][0] == "month"
            assert client.get("/reports/nothing").status_code == 422
    finally:
        server.stop()
    bare = BackgroundServer(ServeConfig(store=str(tmp_path / "g.db"), port=0))
    bare.start()
    try:
        answer = httpx.get(f"{bare.url}/reports/customers", timeout=30)
        assert answer.status_code == 503 and "--lake" in answer.json()["detail"]
    finally:
        bare.stop()
