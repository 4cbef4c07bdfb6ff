"""DuckDB over the lake: one view per stream, named like the stream with ``_`` for ``-``
(``basket_completions``, ``events``, ``dead_letter``...), one per shop table exported by
``lake export`` (``orders``, ``customers``...: :mod:`shopstream.lake.shop`), and the
named reports.

Each view reads ``DIR/stream=NAME/*/*.parquet`` with Hive partitioning, so it has the
stream's columns plus ``date`` (the UTC day of the row's event time). A stream without
files yet is an empty view with the same columns, so queries and reports never fail on
a young lake.

Examples
--------
>>> import pathlib, tempfile
>>> con = connect(pathlib.Path(tempfile.mkdtemp()))
>>> con.execute("SELECT count(*) FROM basket_completions").fetchall()
[(0,)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from shopstream.lake.errors import LakeError
from shopstream.lake.object_store import is_s3_url
from shopstream.lake.schemas import SCHEMAS, view_name
from shopstream.lake.shop import shop_views
from shopstream.lake.sql_text import pick, quote

__all__ = ["REPORTS", "connect", "query", "report_sql"]


def connect(directory: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per stream of the lake at ``directory``
    (or at an ``s3://BUCKET/PREFIX`` URL: :mod:`shopstream.lake.s3_read`)."""
    if is_s3_url(directory):
        return _connect_s3(str(directory))
    root = Path(directory)
    if not root.is_dir():
        msg = f"lake directory {str(directory)!r} does not exist"
        raise LakeError(msg)
    con = _connection()
    for stream, schema in SCHEMAS.items():
        view = view_name(stream)
        folder = root / f"stream={stream}"
        if any(folder.glob("date=*/*.parquet")):
            pattern = quote(str(folder / "*" / "*.parquet"))
            con.execute(f'CREATE VIEW "{view}" AS SELECT * EXCLUDE (stream) FROM read_parquet('
                        f"{pattern}, hive_partitioning = true, union_by_name = true)")
        else:
            _empty_view(con, view, schema)
    shop_views(con, root)
    return con


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")  # months and dates of timestamptz columns in UTC
    # DuckDB draws a progress bar on the terminal for a long query, into the report's
    # output (seen over 10 M rows): the commands print only the result.
    con.execute("SET enable_progress_bar = false")
    return con


def _empty_view(con: duckdb.DuckDBPyConnection, view: str, schema: pa.Schema) -> None:
    empty = schema.empty_table().append_column("date", pa.array([], pa.date32()))
    con.register(f"_empty_{view}", empty)
    con.execute(f'CREATE VIEW "{view}" AS SELECT * FROM "_empty_{view}"')


def _connect_s3(url: str) -> duckdb.DuckDBPyConnection:
    """Views over the committed objects of the lake at ``url`` (shopstream.lake.s3_read);
    the shop tables of ``lake export`` live in local lakes only."""
    from shopstream.lake.s3_read import stream_datasets

    datasets = stream_datasets(url)
    con = _connection()
    for stream, schema in SCHEMAS.items():
        view = view_name(stream)
        dataset = datasets.get(stream)
        if dataset is None:
            _empty_view(con, view, schema)
        else:
            con.register(f"_lake_{view}", dataset)
            con.execute(f'CREATE VIEW "{view}" AS SELECT * FROM "_lake_{view}"')
    return con


def query(directory: str | Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` over the lake; return the column names and the rows."""
    con = connect(directory)
    try:
        result = con.execute(sql)
        columns = [d[0] for d in result.description or ()]
        rows = result.fetchall()
    except duckdb.Error as exc:
        msg = f"query failed: {exc}"
        raise LakeError(msg) from None
    finally:
        con.close()
    return columns, rows


# Orders are the completed baskets (one per PURCHASE), with their total and lines.
_ORDERS = "(SELECT * FROM basket_completions WHERE status = 'COMPLETED')"

#: Report name -> SQL over the stream views.
REPORTS: dict[str, str] = {
    # Customers segmented by what they spent: High > 10,000, Medium > 5,000, else Low.
    "customers": f"""
        SELECT user_id,
               CASE WHEN sum(total_value) > 10000 THEN 'High'
                    WHEN sum(total_value) > 5000 THEN 'Medium' ELSE 'Low' END AS segment,
               count(*) AS orders,
               round(sum(total_value), 2) AS total_spent,
               round(avg(total_value), 2) AS average_order_value
        FROM {_ORDERS}
        GROUP BY user_id
        ORDER BY total_spent DESC, user_id""",
    # Top sellers: quantity, revenue and distinct customers per product.
    "products": f"""
        SELECT line.product_id AS product_id,
               any_value(line.product_name) AS product_name,
               any_value(line.category) AS category,
               sum(line.quantity) AS quantity,
               round(sum(line.price * line.quantity), 2) AS revenue,
               count(DISTINCT user_id) AS customers
        FROM (SELECT user_id, unnest(items) AS line FROM {_ORDERS})
        GROUP BY line.product_id
        ORDER BY revenue DESC, product_id""",
    # Monthly revenue over the 12 months up to the newest order in the lake (event time,
    # so a replay of old data reports its own last year, not the wall clock's).
    "revenue": f"""
        WITH orders AS (
            SELECT date_trunc('month', make_timestamp(completion_time * 1000)) AS month,
                   total_value, user_id
            FROM {_ORDERS})
        SELECT strftime(month, '%Y-%m') AS month,
               round(sum(total_value), 2) AS revenue,
               count(*) AS orders,
               count(DISTINCT user_id) AS customers,
               round(avg(total_value), 2) AS average_order_value
        FROM orders
        WHERE month > (SELECT max(month) FROM orders) - INTERVAL 12 MONTH
        GROUP BY month
        ORDER BY month""",
}


def report_sql(name: str) -> str:
    """The SQL of report ``name``."""
    return pick(REPORTS, name, "report")
