"""Human-readable run summaries and progress bars shared by the commands, and the
``shopstream report`` command (named reports over the lake)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

from shopstream.events import streams
from shopstream.runners.embedded.runner import RunSummary

__all__ = ["byte_progress", "format_summary", "register"]


@contextmanager
def byte_progress(total: int | None, label: str, enabled: bool = True,
                  ) -> Iterator[Callable[[int], None]]:
    """A tqdm bar over bytes read, shown on stderr when it is a terminal.

    Yields the callback to give the runner: it takes the byte offset reached.
    """
    bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
               disable=None if enabled else True, file=sys.stderr, leave=False)
    reached = [0]

    def update(offset: int) -> None:
        bar.update(offset - reached[0])
        reached[0] = offset

    try:
        yield update
    finally:
        bar.close()


# Summary lines of the insight streams, shown when the pipeline writes them.
_INSIGHTS = (
    ("carts abandoned", streams.CART_ABANDONMENT),
    ("fraud alerts", streams.FRAUD_ALERTS),
    ("revenue windows", streams.REVENUE_STATS),
    ("top-product windows", streams.TOP_PRODUCTS),
    ("rule changes", streams.BASKET_PATTERNS),
)


def format_summary(summary: RunSummary, out: TextIO | None = None) -> str:
    """The summary printed at the end of ``shopstream run`` and ``shopstream demo``."""
    outputs = summary.outputs
    completed = outputs.get(streams.BASKET_COMPLETIONS, 0)
    abandoned = outputs.get(streams.ABANDONED_BASKETS, 0)
    lines = [
        f"events in          {summary.lines:>12,}"
        + (f"   (resumed at line {summary.resumed_at_line:,})" if summary.resumed_at_line else ""),
        f"  decoded          {summary.events:>12,}",
        f"  dead letters     {summary.dead_letters:>12,}",
        f"  late events      {summary.late_events:>12,}",
        f"sessions           {summary.sessions:>12,}",
        f"baskets completed  {completed:>12,}",
        f"baskets abandoned  {abandoned:>12,}",
    ]
    for label, stream in _INSIGHTS:
        if stream in outputs:
            lines.append(f"{label:<19}{outputs[stream]:>12,}")
    lines += [
        f"throughput         {summary.events_per_second:>12,.0f} events/s "
        f"({summary.seconds:.2f} s)",
        "output streams:",
    ]
    width = max((len(s) for s in summary.files), default=0)
    for stream, path in sorted(summary.files.items()):
        lines.append(f"  {stream:<{width}}  {outputs.get(stream, 0):>10,}  {path}")
    text = "\n".join(lines)
    if out is not None:
        print(text, file=out)
    return text


def register(sub: Any) -> None:
    """``shopstream report customers|products|revenue --lake DIR``: the named reports."""
    parser = sub.add_parser(
        "report", help="named reports over the lake: customers, products, revenue",
        description="Reports over the lake's completed baskets. customers: orders, total "
                    "and average per customer, segmented High (> 10,000 spent), Medium "
                    "(> 5,000) or Low; products: top sellers with category, quantity, "
                    "revenue and distinct customers; revenue: monthly revenue, orders, "
                    "customers and average order value over the last 12 months (of event "
                    "time, up to the newest order).")
    parser.add_argument("name", choices=("customers", "products", "revenue"))
    parser.add_argument("--source", choices=("events", "shop"), default="events",
                        help="events: the completed baskets of run --lake (default); shop: "
                             "the shop tables copied by `lake export` (the same SQL runs on "
                             "PostgreSQL)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="show the first N rows only")
    from shopstream.cli.sql import add_output_arguments

    add_output_arguments(parser)
    parser.set_defaults(func=_report)


def _report(args: Any) -> int:
    from shopstream.cli.lake import require_lake
    from shopstream.cli.sql import print_rows

    require_lake()
    from shopstream.lake.query import query, report_sql
    from shopstream.lake.shop import shop_report_sql

    if args.source == "shop":
        from shopstream.lake.errors import LakeError
        from shopstream.lake.export import read_state

        if not read_state(args.lake)["tables"]:
            msg = (f"the lake {args.lake!r} has no shop tables: run `shopstream lake export "
                   f"--postgres DSN --lake {args.lake}` first")
            raise LakeError(msg)
    sql = shop_report_sql(args.name) if args.source == "shop" else report_sql(args.name)
    if args.limit is not None:
        sql = f"{sql}\n        LIMIT {int(args.limit)}"
    columns, rows = query(args.lake, sql)
    print_rows(columns, rows, args.format, sys.stdout)
    return 0
