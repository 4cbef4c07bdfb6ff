"""``shopstream lake``: look after the Parquet lake that ``run --lake DIR`` writes."""

from __future__ import annotations

import argparse
from typing import Any

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


def lake_sink(directory: str) -> Any:
    """The sink ``run --lake DIR`` hands to the runner."""
    require_lake()
    from shopstream.lake.sink import LakeSink

    return LakeSink(directory)


def register(sub: Any) -> None:
    parser = sub.add_parser("lake", help="maintain the Parquet lake (compaction)",
                            description="Maintain the Parquet lake written by run --lake.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    comp = actions.add_parser(
        "compact", help="merge each partition's small files into one",
        description="Merge the files of each stream/date partition (one per checkpoint) "
                    "into one file. Do not run it while a run writing the lake is running "
                    "or waiting to be resumed.")
    comp.add_argument("directory", metavar="DIR", help="the lake directory")
    comp.add_argument("--min-files", type=int, default=2, metavar="N",
                      help="only partitions with at least N files (default 2)")
    comp.set_defaults(func=_compact)


def _compact(args: argparse.Namespace) -> int:
    require_lake()
    from shopstream.lake.compact import compact

    done = compact(args.directory, min_files=args.min_files)
    print(f"compacted {done.partitions:,} partitions: {done.files_before:,} files -> "
          f"{done.files_after:,} ({done.rows:,} rows)")
    return 0
