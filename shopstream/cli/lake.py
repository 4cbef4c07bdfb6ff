"""``shopstream lake``: look after the Parquet lake that ``run --lake DIR`` writes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError
from shopstream.lake.errors import LakeError

__all__ = ["lake_sink", "register", "require_lake"]


def require_lake() -> None:
    """Fail with the extra to install when pyarrow or duckdb is missing."""
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        msg = f"the lake needs {exc.name}: pip install 'shopstream[lake]'"
        raise LakeError(msg) from None


def lake_sink(directory: str, args: argparse.Namespace | None = None) -> Any:
    """The sink ``run --lake DIR`` (or ``--lake s3://BUCKET/PREFIX``) hands to the runner;
    a run of an input file names it, so a fresh run of the same file replaces the earlier
    run's rows."""
    require_lake()
    from shopstream.lake.object_store import is_s3_url

    if is_s3_url(directory):
        from shopstream.lake.s3_sink import S3LakeSink

        return S3LakeSink(directory, source=input_identity(args))
    from shopstream.lake.sink import LakeSink

    return LakeSink(directory, source=input_identity(args))


def input_identity(args: argparse.Namespace | None) -> str | None:
    """The input file's absolute path; ``None`` for standard input, Kafka and PostgreSQL
    (their re-runs read new data, which the lake appends)."""
    path = getattr(args, "input", None)
    if (not path or path == "-" or getattr(args, "kafka", None)
            or getattr(args, "postgres", None)):
        return None
    return str(Path(path).resolve())


def register(sub: Any) -> None:
    parser = sub.add_parser("lake", help="maintain the Parquet lake (compaction, export)",
                            description="Maintain the Parquet lake written by run --lake: "
                                        "compact it, export the shop database into it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    comp = actions.add_parser(
        "compact", help="merge each partition's small files into one",
        description="Merge the files of each stream/date partition (one per checkpoint) "
                    "into one file, and the files of each exported shop table (one per "
                    "lake export) into one holding its live rows. Do not run it while a "
                    "run writing the lake is running or waiting to be resumed, or while "
                    "an export is running.")
    comp.add_argument("directory", metavar="DIR",
                      help="the lake directory, or s3://BUCKET/PREFIX (then it holds the "
                           "lake's writer lock and deletes uncommitted objects)")
    comp.add_argument("--min-files", type=int, default=2, metavar="N",
                      help="only partitions with at least N files (default 2)")
    comp.set_defaults(func=_compact)
    exp = actions.add_parser(
        "export", help="copy the shop database's tables into the lake (incremental)",
        description="Copy the shop tables (customers, products, categories, orders, "
                    "order_items, payments, carts, wishlist, shipments, shop_meta) to "
                    "Parquet under DIR/table=NAME, with their types (numeric as decimal, "
                    "timestamptz with its zone). Each export copies only the rows whose "
                    "updated_at moved since the previous one, and the list of live keys, so "
                    "the views of `shopstream sql` show updates and drop deleted rows.")
    exp.add_argument("--postgres", default=os.environ.get("SHOPSTREAM_POSTGRES"),
                     metavar="DSN", help="the shop database (default $SHOPSTREAM_POSTGRES)")
    exp.add_argument("--lake", default="lake", metavar="DIR",
                     help="the lake directory (default ./lake)")
    exp.add_argument("--table", action="append", dest="tables", metavar="NAME",
                     help="copy only this table (repeatable; default every table)")
    exp.add_argument("--lag", type=float, default=10.0, metavar="S",
                     help="leave rows stamped in the last S seconds for the next export, "
                          "so transactions still open are not skipped (default 10)")
    exp.add_argument("--full", action="store_true",
                     help="forget the high-water marks and copy every row again")
    exp.add_argument("--json", action="store_true", help="print the result as JSON")
    exp.add_argument("--no-progress", action="store_true", help="no progress bar")
    exp.set_defaults(func=_export)


def _compact(args: argparse.Namespace) -> int:
    require_lake()
    from shopstream.lake.compact import compact
    from shopstream.lake.export_compact import compact_tables
    from shopstream.lake.object_store import is_s3_url

    if is_s3_url(args.directory):
        from shopstream.lake.s3_compact import compact_s3

        done = compact_s3(args.directory, min_files=args.min_files)
        print(f"compacted {done.partitions:,} partitions: {done.files_before:,} files -> "
              f"{done.files_after:,} ({done.rows:,} rows); {done.orphans:,} uncommitted "
              "objects deleted")
        return 0
    done = compact(args.directory, min_files=args.min_files)
    print(f"compacted {done.partitions:,} partitions: {done.files_before:,} files -> "
          f"{done.files_after:,} ({done.rows:,} rows)")
    for why in done.skipped:
        print(f"skipped run {why}")
    tables = compact_tables(args.directory, min_files=args.min_files)
    if tables.partitions:
        print(f"compacted {tables.partitions:,} exported tables: {tables.files_before:,} "
              f"files -> {tables.files_after:,} ({tables.rows:,} live rows)")
    return 0


def _export(args: argparse.Namespace) -> int:
    require_lake()
    if str(args.lake).startswith(("s3:", "S3:")):
        from shopstream.redaction import redact

        msg = (f"lake export: --lake {redact(str(args.lake))}: exports write a local lake "
               "directory only")
        raise ConfigError(msg)
    if not args.postgres:
        msg = "lake export: no database given: pass --postgres DSN or set $SHOPSTREAM_POSTGRES"
        raise ConfigError(msg)
    from tqdm import tqdm

    from shopstream.lake.export import ExportConfig, export
    from shopstream.shopdb.schema import TABLES

    config = ExportConfig(tables=tuple(args.tables) if args.tables else TABLES,
                          lag_s=args.lag, full=args.full)
    bars: dict[str, Any] = {}

    def progress(table: str, done: int, total: int) -> None:
        bar = bars.get(table)
        if bar is None:
            bar = bars[table] = tqdm(total=total, desc=table, unit="rows", unit_scale=True,
                                     file=sys.stderr, leave=False,
                                     disable=True if args.no_progress else None)
        bar.update(done - bar.n)

    try:
        done = export(args.postgres, args.lake, config, progress)
    finally:
        for bar in bars.values():
            bar.close()
    if args.json:
        print(json.dumps({"lake": args.lake, "high_water": done.high_water,
                          "rows": done.rows, "tables": [asdict(t) for t in done.tables]},
                         indent=2))
        return 0
    for t in done.tables:
        how = "full" if t.full else "changed"
        print(f"{t.table:<12} {t.rows:>10,} rows copied ({how}), {t.live:>10,} live, "
              f"schema v{t.schema_version}")
    print(f"lake {args.lake}: {done.rows:,} rows copied, up to {done.high_water}")
    return 0
