"""Row values as change data capture reads them, and what the mapping does with a value
it cannot use: a :class:`MappingRefusal` (a dead letter), never a crash.

Examples
--------
>>> money("12.345"), money(None)
(12.35, 0.0)
>>> money("NaN")
Traceback (most recent call last):
...
ValueError: amount 'NaN' is not a finite number
>>> row_ms("2026-01-01 10:00:00+00")
1767261600000
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from shopstream.connectors.wal2json import RowChange
from shopstream.events.model import parse_timestamp_ms

__all__ = ["BAD_VALUE", "MappingRefusal", "money", "refusal", "row_ms"]

#: What a row value the mapping cannot use raises (a timestamp PostgreSQL allows and
#: Python does not, 'infinity', NaN or non-numeric money, a quantity that is no integer).
BAD_VALUE = (ValueError, TypeError, OverflowError, ArithmeticError)


class MappingRefusal(msgspec.Struct, rename="camel"):
    """A row change whose values cannot become an event (issue 18: no crash).

    The source encodes it as it encodes events; it is no event, so the runner sends it to
    ``dead-letter``, whose ``raw`` then holds ``cdcMappingError`` (why), the table, the
    kind of change and the row as wal2json sent it.
    """

    cdc_mapping_error: str
    table: str
    kind: str
    row: dict[str, Any]


def refusal(change: RowChange, exc: BaseException) -> MappingRefusal:
    """The refusal of ``change``, whose values raised ``exc`` (reason cut at 1,000
    characters)."""
    reason = f"{change.table} {change.kind}: {type(exc).__name__}: {exc}"[:1000]
    return MappingRefusal(reason, change.table, change.kind, dict(change.row))


def row_ms(value: Any) -> int:
    """A row's timestamp (or a commit time in milliseconds) in epoch milliseconds."""
    return parse_timestamp_ms(str(value))


def money(value: Any) -> float:
    """A NUMERIC as wal2json sends it (a JSON number; a string if so configured)."""
    if value is None:
        return 0.0
    amount = round(float(value), 2)
    if not math.isfinite(amount):  # numeric 'NaN' / 'Infinity' would become null
        msg = f"amount {value!r} is not a finite number"
        raise ValueError(msg)
    return amount
