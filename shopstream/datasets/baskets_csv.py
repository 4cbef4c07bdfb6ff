"""Baskets as CSV: a header ``basket_id,item`` and one row per item of a basket.

Rows of one basket need not be adjacent; an item repeated in a basket counts once.
Baskets keep the order in which their ids first appear, items the order of their rows.

Examples
--------
>>> import io
>>> table = read_baskets(io.StringIO("basket_id,item\\no1,milk\\no2,tea\\no1,bread\\no1,milk\\n"))
>>> table.baskets
[('o1', ('milk', 'bread')), ('o2', ('tea',))]
>>> table.item_count
3
>>> out = io.StringIO()
>>> write_baskets(out, table.baskets)
3
>>> out.getvalue().splitlines()[:2]
['basket_id,item', 'o1,milk']
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from shopstream.errors import SourceError

__all__ = ["HEADER", "BasketTable", "read_baskets", "read_baskets_file", "write_baskets"]

HEADER = ("basket_id", "item")

Progress = Callable[[int], None]
"""Told how many characters were just read."""


@dataclass(frozen=True)
class BasketTable:
    """Baskets read from a CSV, in first-appearance order, items de-duplicated."""

    baskets: list[tuple[str, tuple[str, ...]]]
    item_count: int
    row_count: int

    def item_lists(self) -> list[tuple[str, ...]]:
        """Just the items of each basket (what the miners take)."""
        return [items for _, items in self.baskets]


def _lines(source: TextIO, progress: Progress | None) -> Iterator[str]:
    for line in source:
        if progress is not None:
            progress(len(line))
        yield line


def read_baskets(source: TextIO, name: str = "<baskets>",
                 progress: Progress | None = None) -> BasketTable:
    """Parse a baskets CSV; a :class:`~shopstream.errors.SourceError` names the bad line."""
    reader = csv.reader(_lines(source, progress))
    header = next(reader, None)
    if header is None:
        msg = f"{name} is empty (expected a header 'basket_id,item')"
        raise SourceError(msg)
    cleaned = tuple(column.strip().lstrip("\ufeff") for column in header)
    if cleaned != HEADER:
        msg = f"{name}: expected header 'basket_id,item', got {','.join(header)!r}"
        raise SourceError(msg)
    # One shared string per distinct id: less memory, and faster hashing in the miners.
    names: dict[str, str] = {}
    baskets: dict[str, dict[str, None]] = {}
    rows = 0
    for row in reader:
        if not row:
            continue
        if len(row) != 2 or not row[0] or not row[1]:
            msg = (f"{name}:{reader.line_num}: expected 2 non-empty columns "
                   f"'basket_id,item', got {row!r}")
            raise SourceError(msg)
        rows += 1
        item = names.setdefault(row[1], row[1])
        baskets.setdefault(row[0], {})[item] = None
    if not baskets:
        msg = f"{name} has a header but no baskets"
        raise SourceError(msg)
    return BasketTable([(basket_id, tuple(items)) for basket_id, items in baskets.items()],
                       len(names), rows)


def read_baskets_file(path: Path, progress: Progress | None = None) -> BasketTable:
    """:func:`read_baskets` on a file, with a clear error when it cannot be opened."""
    try:
        with path.open(newline="", encoding="utf-8") as source:
            return read_baskets(source, str(path), progress)
    except FileNotFoundError as exc:
        msg = f"baskets file {str(path)!r} does not exist"
        raise SourceError(msg) from exc
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read baskets file {str(path)!r}: {exc}"
        raise SourceError(msg) from exc


def write_baskets(sink: TextIO, baskets: Iterable[tuple[str, Iterable[str]]]) -> int:
    """Write ``(basket_id, items)`` pairs as a baskets CSV; return the number of rows."""
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(HEADER)
    rows = 0
    for basket_id, items in baskets:
        for item in items:
            writer.writerow((basket_id, item))
            rows += 1
    return rows
