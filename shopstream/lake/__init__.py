"""Parquet history of every stream (Hive layout by stream and date) and DuckDB over it.

Needs the ``lake`` extra (pyarrow, duckdb): ``pip install 'shopstream[lake]'``.
"""
