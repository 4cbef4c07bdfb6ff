"""``shopstream sql``: DuckDB over the lake, one view per stream and per exported table."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from shopstream.cli.lake import require_lake

__all__ = ["print_rows", "register"]

FORMATS = ("table", "csv", "json")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", required=True, metavar="DIR",
                        help="the lake directory written by run --lake, or its "
                             "s3://BUCKET/PREFIX")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default), csv or json (an array of objects)")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sql", help="run SQL over the lake (DuckDB)",
        description="Run SQL over the lake with DuckDB. Each stream is a view named like "
                    "the stream with _ for - (events, basket_completions, revenue_stats, "
                    "product_recommendations, dead_letter...), with a date column; each "
                    "shop table copied by `lake export` is a view named like the table "
                    "(orders, order_items, customers, products...). Without a query, reads "
                    "one query per line from standard input.")
    parser.add_argument("query", nargs="?", help="the SQL query")
    add_output_arguments(parser)
    parser.set_defaults(func=_sql)


def _sql(args: argparse.Namespace) -> int:
    require_lake()
    from shopstream.lake.errors import LakeError
    from shopstream.lake.query import query

    if args.query:
        columns, rows = query(args.lake, args.query)
        print_rows(columns, rows, args.format, sys.stdout)
        return 0
    interactive = sys.stdin.isatty()
    code = 0
    while True:
        if interactive:
            print("sql> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip().rstrip(";")
        if not text:
            continue
        try:
            columns, rows = query(args.lake, text)
        except LakeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
            continue
        print_rows(columns, rows, args.format, sys.stdout)
    return code


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def print_rows(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], fmt: str,
               out: TextIO) -> None:
    """Write a result as an aligned table, CSV or a JSON array of objects.

    >>> import io
    >>> buf = io.StringIO()
    >>> print_rows(["a", "bb"], [(1, "x"), (22, None)], "table", buf)
    >>> print(buf.getvalue(), end="")
    a   bb
    --  --
    1   x
    22
    (2 rows)
    """
    if fmt == "json":
        out.write(json.dumps([dict(zip(columns, row, strict=True)) for row in rows],
                             default=str, indent=1) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
        return
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    for line in ([*columns], ["-" * w for w in widths], *cells):
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                  + "\n")
    out.write(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})\n")
