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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TextIO

from shopstream.errors import SourceError

__all__ = ["HEADER", "BasketTable", "read_baskets", "read_baskets_file", "write_baskets"]

HEADER = ("basket_id", "item")

Progress = Callable[[int], None]
"""Told how many bytes were just read."""


@dataclass(frozen=True)
class BasketTable:
    """Baskets read from a CSV, in first-appearance order, items de-duplicated."""

    baskets: list[tuple[str, tuple[str, ...]]]
    item_count: int
    row_count: int

    def item_lists(self) -> list[tuple[str, ...]]:
        """Just the items of each basket (what the miners take)."""
        return [items for _, items in self.baskets]


# Rows read between two progress reports (and between two looks at the block's end).
_BLOCK_ROWS = 16_384


def read_baskets(source: TextIO, name: str = "<baskets>",
                 progress: Progress | None = None) -> BasketTable:
    """Parse a baskets CSV; a :class:`~shopstream.errors.SourceError` names the bad line.

    ``progress`` is told the bytes read so far in blocks of rows (when ``source`` is a
    file; a text stream without a byte buffer reports nothing): the rows themselves go
    straight from the file to the CSV reader, with no call per line."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None:
        msg = f"{name} is empty (expected a header 'basket_id,item')"
        raise SourceError(msg)
    cleaned = tuple(column.strip().lstrip("\ufeff") for column in header)
    if cleaned != HEADER:
        msg = f"{name}: expected header 'basket_id,item', got {','.join(header)!r}"
        raise SourceError(msg)
    raw = getattr(source, "buffer", None) if progress is not None else None
    told = 0
    # One shared string per distinct id: less memory, and faster hashing in the miners.
    names: dict[str, str] = {}
    intern = names.setdefault
    baskets: dict[str, dict[str, None]] = {}
    basket_of = baskets.setdefault
    rows = 0
    while True:
        first_line = reader.line_num
        block = list(islice(reader, _BLOCK_ROWS))
        if not block:
            break
        for index, row in enumerate(block):
            if len(row) == 2 and row[0] and row[1]:
                basket_of(row[0], {})[intern(row[1], row[1])] = None
            elif row:
                # The line, when no earlier row of the block spans lines inside quotes.
                msg = (f"{name}:{first_line + index + 1}: expected 2 non-empty columns "
                       f"'basket_id,item', got {row!r}")
                raise SourceError(msg)
            else:
                rows -= 1  # an empty line is no row
        rows += len(block)
        if raw is not None and progress is not None:
            position = raw.tell()
            progress(position - told)
            told = position
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
