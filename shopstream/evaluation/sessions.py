"""The sessions CSV of ``shopstream evaluate``: ``session_id,timestamp,item[,user_id,
event_type]``.

``timestamp`` is epoch milliseconds or ISO-8601; ``user_id`` defaults to the session and
``event_type`` to ``ADD_TO_CART``. Sessions come back ordered by start time (ties by id),
each with its events in time order (ties keep file order).

Examples
--------
>>> import io
>>> text = io.StringIO("session_id,timestamp,item\\nb,2000,x\\na,1000,y\\na,1500,z\\n")
>>> [(s.session_id, [e.item for e in s.events]) for s in read_sessions(text)]
[('a', ['y', 'z']), ('b', ['x'])]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from shopstream.errors import DatasetError
from shopstream.events.model import parse_timestamp_ms

__all__ = ["EvalSession", "SessionRow", "load_sessions", "read_sessions", "split"]

_REQUIRED = ("session_id", "timestamp", "item")


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One event of a session."""

    timestamp_ms: int
    item: str
    user_id: str
    event_type: str


@dataclass(frozen=True, slots=True)
class EvalSession:
    """A session: its id and events in time order."""

    session_id: str
    events: tuple[SessionRow, ...]

    @property
    def start_ms(self) -> int:
        return self.events[0].timestamp_ms


def read_sessions(source: TextIO, name: str = "<sessions>") -> list[EvalSession]:
    """Parse the CSV; a :class:`DatasetError` names the first bad line and why."""
    reader = csv.DictReader(source)
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        msg = (f"{name}: the header lacks {missing}; expected "
               f"session_id,timestamp,item[,user_id,event_type], got {reader.fieldnames!r}")
        raise DatasetError(msg)
    rows: dict[str, list[tuple[int, int, SessionRow]]] = {}
    for n, row in enumerate(reader):
        session, item, stamp = row["session_id"], row["item"], row["timestamp"]
        if not session or not item or not stamp:
            msg = f"{name} line {reader.line_num}: session_id, timestamp and item are required"
            raise DatasetError(msg)
        try:
            ts = parse_timestamp_ms(stamp)
        except ValueError as exc:
            msg = f"{name} line {reader.line_num}: {exc}"
            raise DatasetError(msg) from None
        user = row.get("user_id") or session
        kind = (row.get("event_type") or "ADD_TO_CART").upper()
        rows.setdefault(session, []).append((ts, n, SessionRow(ts, item, user, kind)))
    sessions = [EvalSession(sid, tuple(r for *_, r in sorted(events)))
                for sid, events in rows.items()]
    sessions.sort(key=lambda s: (s.start_ms, s.session_id))
    return sessions


def load_sessions(path: Path) -> list[EvalSession]:
    """:func:`read_sessions` on a file."""
    try:
        with path.open(newline="", encoding="utf-8") as source:
            return read_sessions(source, str(path))
    except OSError as exc:
        msg = f"cannot read sessions file {str(path)!r}: {exc.strerror}"
        raise DatasetError(msg) from None


def split(sessions: list[EvalSession], test_fraction: float
          ) -> tuple[list[EvalSession], list[EvalSession]]:
    """The earliest sessions for training, the last ``test_fraction`` for testing.

    Examples
    --------
    >>> s = [EvalSession(str(i), (SessionRow(i, "x", "u", "VIEW_PRODUCT"),)) for i in range(5)]
    >>> [len(part) for part in split(s, 0.2)]
    [4, 1]
    """
    if not 0 < test_fraction < 1:
        msg = f"test fraction must be between 0 and 1, got {test_fraction!r}"
        raise DatasetError(msg)
    cut = len(sessions) - max(1, round(len(sessions) * test_fraction))
    if cut < 1:
        msg = f"{len(sessions)} sessions are too few to split off a test fraction"
        raise DatasetError(msg)
    return sessions[:cut], sessions[cut:]
