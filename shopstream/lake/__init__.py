"""Parquet history of every stream (Hive layout by stream and date) and DuckDB over it.

Needs the ``lake`` extra (pyarrow, duckdb): ``pip install 'shopstream[lake]'``.
"""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "compact",
    "errors",
    "export",
    "query",
    "runs",
    "schemas",
    "shop",
    "sink",
]
