"""Parquet history of every stream (Hive layout by stream and date) and DuckDB over it.

Needs the ``lake`` extra (pyarrow, duckdb): ``pip install 'shopstream[lake]'``.
"""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "columns",
    "compact",
    "errors",
    "export",
    "export_compact",
    "files",
    "query",
    "runs",
    "schemas",
    "shop",
    "sink",
    "sql_text",
    "writer",
]
