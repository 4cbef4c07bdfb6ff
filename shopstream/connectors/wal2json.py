"""Reading wal2json, the logical decoding plugin that turns committed WAL into JSON.

Two forms become the same :class:`Transaction` (a committed transaction and its row
changes, with the WAL position just after its commit):

* format version 2 with ``include-transaction``, what the CDC source streams: one message
  per row change between a ``B`` (begin) and a ``C`` (commit) message, fed one by one to
  :class:`TransactionAssembler`. The ``C`` message sits at the commit's end, which lets
  the source confirm positions safely (see ``postgres_cdc``);
* format version 1, one message holding a whole transaction (``pg_recvlogical`` output,
  the golden test files): :func:`parse_wal2json`.

Examples
--------
>>> asm = TransactionAssembler()
>>> asm.feed(b'{"action":"B","xid":7,"timestamp":"2026-01-01 10:00:00+00",'
...          b'"lsn":"0/16B3700","nextlsn":"0/16B3748"}') is None
True
>>> asm.feed(b'{"action":"I","xid":7,"table":"carts","columns":[{"name":"id","value":5},'
...          b'{"name":"quantity","value":2}]}') is None
True
>>> tx = asm.feed(b'{"action":"C","xid":7,"timestamp":"2026-01-01 10:00:00+00",'
...               b'"lsn":"0/16B3700","nextlsn":"0/16B3748"}')
>>> tx.end_lsn, tx.commit_ms, tx.changes[0].row
(23803720, 1767261600000, {'id': 5, 'quantity': 2})
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from shopstream.errors import DecodeError
from shopstream.events.model import parse_timestamp_ms

__all__ = ["RowChange", "Transaction", "TransactionAssembler", "format_lsn", "parse_lsn",
           "parse_wal2json"]


class RowChange(NamedTuple):
    """One row change: ``row`` holds the new values (the old ones for a delete)."""

    kind: str  # insert | update | delete
    table: str
    row: dict[str, Any]
    old: dict[str, Any] | None = None


class Transaction(NamedTuple):
    """A committed transaction: ``end_lsn`` is the WAL position just after its commit."""

    xid: int
    end_lsn: int
    commit_ms: int
    changes: tuple[RowChange, ...]


def parse_lsn(text: str) -> int:
    """``'0/16B3748'`` as an integer.

    Examples
    --------
    >>> parse_lsn("0/16B3748"), parse_lsn("1/0")
    (23803720, 4294967296)
    """
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(lsn: int) -> str:
    """An integer LSN in PostgreSQL's ``X/X`` form.

    Examples
    --------
    >>> format_lsn(23803720)
    '0/16B3748'
    """
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _ms(value: str) -> int:
    return parse_timestamp_ms(value)


def _problem(payload: bytes, version: int, exc: Exception) -> DecodeError:
    text = payload[:200].decode("utf-8", "replace")
    return DecodeError(f"wal2json message is not format version {version} ({exc}): {text}")


# --- format version 1: one message per transaction --------------------------------------

class _ChangeV1(msgspec.Struct):
    kind: str
    table: str
    columnnames: list[str] = []
    columnvalues: list[Any] = []
    oldkeys: dict[str, list[Any]] | None = None


class _MessageV1(msgspec.Struct):
    nextlsn: str
    timestamp: str
    change: list[_ChangeV1]
    xid: int = 0


_decode_v1 = msgspec.json.Decoder(_MessageV1).decode


def parse_wal2json(payload: bytes) -> Transaction:
    """One wal2json format-version-1 message (options ``include-lsn``,
    ``include-timestamp``) as a :class:`Transaction`; :class:`DecodeError` if malformed."""
    try:
        msg = _decode_v1(payload)
        changes = []
        for c in msg.change:
            row = dict(zip(c.columnnames, c.columnvalues, strict=True))
            old = None
            if c.oldkeys is not None:
                old = dict(zip(c.oldkeys.get("keynames", []), c.oldkeys.get("keyvalues", []),
                               strict=True))
            if c.kind == "delete":
                row, old = old or {}, None
            changes.append(RowChange(c.kind, c.table, row, old))
        return Transaction(msg.xid, parse_lsn(msg.nextlsn), _ms(msg.timestamp), tuple(changes))
    except (msgspec.DecodeError, ValueError) as exc:
        raise _problem(payload, 1, exc) from None


# --- format version 2: one message per change, framed by B and C ------------------------

class _Column(msgspec.Struct):
    name: str
    value: Any = None


class _MessageV2(msgspec.Struct):
    action: str
    xid: int = 0
    timestamp: str | None = None
    nextlsn: str | None = None
    table: str | None = None
    columns: list[_Column] | None = None
    identity: list[_Column] | None = None


_decode_v2 = msgspec.json.Decoder(_MessageV2).decode
_KINDS = {"I": "insert", "U": "update", "D": "delete"}


class TransactionAssembler:
    """Collects format-version-2 messages (``include-transaction``, ``include-lsn``,
    ``include-timestamp``) into transactions: :meth:`feed` returns one at each ``C``."""

    def __init__(self) -> None:
        self._changes: list[RowChange] | None = None

    def feed(self, payload: bytes) -> Transaction | None:
        """Take one message; the finished :class:`Transaction` at its commit, else None.

        Truncations and logical messages are skipped; :class:`DecodeError` for a message
        that is not wal2json format version 2, or a change outside a transaction.
        """
        try:
            msg = _decode_v2(payload)
            action = msg.action
            if action == "B":
                self._changes = []
                return None
            if action == "C":
                changes, self._changes = self._changes, None
                if changes is None or msg.nextlsn is None or msg.timestamp is None:
                    msg_ = "a commit without its begin, commit position or time"
                    raise ValueError(msg_)
                return Transaction(msg.xid, parse_lsn(msg.nextlsn), _ms(msg.timestamp),
                                   tuple(changes))
            kind = _KINDS.get(action)
            if kind is None:
                return None  # T (truncate), M (logical message)
            if self._changes is None or msg.table is None:
                msg_ = f"a {kind} outside a transaction or without its table"
                raise ValueError(msg_)
            new = {c.name: c.value for c in msg.columns or ()}
            old = {c.name: c.value for c in msg.identity} if msg.identity else None
            if kind == "delete":
                new, old = old or {}, None
            self._changes.append(RowChange(kind, msg.table, new, old))
            return None
        except (msgspec.DecodeError, ValueError) as exc:
            raise _problem(payload, 2, exc) from None
