"""Parquet history of every stream (Hive layout by stream and date) and DuckDB over it.

Needs the ``lake`` extra (pyarrow, duckdb): ``pip install 'shopstream[lake]'``; a lake on
S3-compatible storage (``s3://BUCKET/PREFIX``) the ``s3`` extra (boto3).
"""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "columns",
    "commits",
    "compact",
    "errors",
    "export",
    "export_compact",
    "files",
    "lease",
    "object_store",
    "query",
    "runs",
    "s3_compact",
    "s3_read",
    "s3_sink",
    "schemas",
    "shop",
    "sink",
    "sql_text",
    "writer",
]
