"""The exported shop tables as DuckDB views, and the named reports over them.

Each table exported by ``shopstream lake export`` (:mod:`shopstream.lake.export`) is a
view named like the table (``customers``, ``orders``, ``order_items``...): the newest
exported version of each row whose primary key was present at the newest export, so
updates replace rows and deletes remove them.

:data:`SHOP_REPORTS` are written in the SQL that DuckDB and PostgreSQL share, so the same
text runs over the lake and directly over the shop database (the integration test checks
that they agree). Orders count unless ``cancelled``; money stays decimal, the averages
are rounded to cents (DuckDB averages decimals in double precision, PostgreSQL exactly,
so an average may differ by a cent on a half-cent tie).

Examples
--------
>>> import duckdb, pathlib, tempfile
>>> con = duckdb.connect()
>>> shop_views(con, pathlib.Path(tempfile.mkdtemp()))
[]
>>> sorted(SHOP_REPORTS)
['customers', 'products', 'revenue']
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopstream.lake.export import read_state
from shopstream.lake.sql_text import pick, quote

__all__ = ["SHOP_REPORTS", "exported", "shop_report_sql", "shop_views", "table_sql"]


def table_sql(folder: Path, key: list[str]) -> str:
    """The rows of an exported table: the newest version of each key the newest export
    found live (``folder``: ``DIR/table=NAME``, ``key``: its primary key's columns)."""
    keys = ", ".join(f'"{k}"' for k in key)
    rows = quote(str(folder / "rows-*.parquet"))
    live = quote(str(folder / "live_ids.parquet"))
    return (f"SELECT * EXCLUDE (filename) FROM ("
            f"SELECT r.* FROM read_parquet({rows}, filename = true, union_by_name = true) r "
            f"SEMI JOIN read_parquet({live}) k USING ({keys}) "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY filename DESC) = 1)")


def exported(root: Path) -> dict[str, list[str]]:
    """The tables of the lake at ``root`` that an export wrote, with their keys."""
    made = {}
    for table, entry in sorted(read_state(root)["tables"].items()):
        folder = root / f"table={table}"
        if (folder / "live_ids.parquet").exists() and any(folder.glob("rows-*.parquet")):
            made[table] = list(entry["key"])
    return made


def shop_views(con: duckdb.DuckDBPyConnection, root: Path) -> list[str]:
    """Create a view per exported table of the lake at ``root``; return their names."""
    made = exported(root)
    for table, key in made.items():
        con.execute(f'CREATE VIEW "{table}" AS {table_sql(root / f"table={table}", key)}')
    return list(made)


# Orders that count: every status but cancelled.
_ORDERS = "(SELECT * FROM orders WHERE status <> 'cancelled')"

#: Report name -> SQL over the shop tables, the same text for DuckDB and PostgreSQL.
SHOP_REPORTS: dict[str, str] = {
    # Customers segmented by what they spent: High > 10,000, Medium > 5,000, else Low.
    "customers": f"""
        SELECT c.id AS customer_id, c.email,
               CASE WHEN sum(o.total) > 10000 THEN 'High'
                    WHEN sum(o.total) > 5000 THEN 'Medium' ELSE 'Low' END AS segment,
               count(*) AS orders,
               sum(o.total) AS total_spent,
               round(avg(o.total), 2) AS average_order_value
        FROM {_ORDERS} o JOIN customers c ON c.id = o.customer_id
        GROUP BY c.id, c.email
        ORDER BY total_spent DESC, customer_id""",
    # Top sellers: quantity, revenue and distinct customers per product.
    "products": f"""
        SELECT p.id AS product_id, p.sku, p.name AS product_name, k.name AS category,
               sum(i.quantity) AS quantity,
               sum(i.price * i.quantity) AS revenue,
               count(DISTINCT o.customer_id) AS customers
        FROM order_items i
             JOIN {_ORDERS} o ON o.id = i.order_id
             JOIN products p ON p.id = i.product_id
             JOIN categories k ON k.id = p.category_id
        GROUP BY p.id, p.sku, p.name, k.name
        ORDER BY revenue DESC, product_id""",
    # Monthly revenue over the 12 months up to the newest order's month (UTC).
    "revenue": f"""
        WITH m AS (
            SELECT CAST(date_trunc('month', o.order_date) AS date) AS month, o.total,
                   o.customer_id
            FROM {_ORDERS} o)
        SELECT month,
               sum(total) AS revenue,
               count(*) AS orders,
               count(DISTINCT customer_id) AS customers,
               round(avg(total), 2) AS average_order_value
        FROM m
        WHERE month > (SELECT max(month) FROM m) - INTERVAL '12 months'
        GROUP BY month
        ORDER BY month""",
}


def shop_report_sql(name: str) -> str:
    """The SQL of shop report ``name``."""
    return pick(SHOP_REPORTS, name, "shop report")
