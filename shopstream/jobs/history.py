"""The shop's history for the retrain: the lake's events when there is a lake, else a
replay of a JSONL event file.

Both give the same :class:`~shopstream.events.model.ShopperEvent` values, oldest first,
limited to the ``history_days`` before the newest event (the retrain's work is bounded
by that window, not by everything ever recorded). The lake is read through DuckDB in
chunks; the file is decoded whole, then cut to the window. Lines of the file that do
not decode are counted and skipped (``shopstream run`` sends them to the dead letters).

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
>>> _ = path.write_text(
...     '{"eventType":"VIEW_PRODUCT","timestamp":1000,"sessionId":"s","userId":"u",'
...     '"productId":"p1"}\\nnot json\\n')
>>> history = read_history(None, str(path), history_days=90)
>>> [e.product_id for e in history.events], history.source, history.rejected
(['p1'], 'replay', 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.model import EventType, Item, ShopperEvent
from shopstream.jobs.errors import JobError, JobSetupError
from shopstream.redaction import redact

if TYPE_CHECKING:
    import duckdb

__all__ = ["History", "may_hold_events", "read_history", "recent_products"]

_DAY_MS = 86_400_000
_COLUMNS = ("event_type", "timestamp_ms", "session_id", "event_id", "user_id", "product_id",
            "price", "quantity", "cart_total", "items")


@dataclass(frozen=True)
class History:
    """Events in time order, where they came from, and the undecodable lines skipped."""

    events: list[ShopperEvent]
    source: str
    rejected: int = 0


def may_hold_events(lake: str | None) -> bool:
    """Whether there is a lake to read events from: a local directory with event files,
    or a lake in object storage (``s3://BUCKET/PREFIX``, whose commit log says which
    events it has when :func:`shopstream.lake.query.connect` reads it).

    >>> may_hold_events(None), may_hold_events("/no/such/lake"), may_hold_events("s3://b/p")
    (False, False, True)
    """
    if not lake:
        return False
    from shopstream.lake.object_store import is_s3_url

    return is_s3_url(lake) or any(Path(lake).glob("stream=events/date=*/*.parquet"))


def read_history(lake: str | None, events: str | None, history_days: int) -> History:
    """The history (see the module documentation); a :class:`JobError` when there is
    neither a lake with events nor an event file."""
    if lake and may_hold_events(lake):
        found = list(_from_lake(lake, history_days))
        if found:  # an S3 lake without events yet gives way to the event file
            return History(found, "lake")
    if events:
        return _replay(Path(events), history_days)
    msg = ("weekly-retrain: no history to learn from: give a lake with events "
           "(`lake` in the jobs configuration, as written by `shopstream run --lake`) or a "
           "JSONL event file (`events`)")
    raise JobSetupError(msg)


def _from_lake(lake: str, history_days: int) -> Iterator[ShopperEvent]:
    con = _connect(lake, "weekly-retrain")
    try:
        newest = con.execute("SELECT max(timestamp_ms) FROM events").fetchone()
        if newest is None or newest[0] is None:
            return
        since = int(newest[0]) - history_days * _DAY_MS
        result = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM events "
                             "WHERE timestamp_ms >= ? ORDER BY timestamp_ms", (since,))
        while rows := result.fetchmany(10_000):
            for row in rows:
                yield _event(row)
    finally:
        con.close()


def _connect(lake: str, job: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection over ``lake`` (:func:`shopstream.lake.query.connect`: a local
    directory or ``s3://``), its failure (a missing bucket, an unreachable endpoint) a
    :class:`JobError` naming ``job``."""
    from shopstream.lake.errors import LakeError
    from shopstream.lake.query import connect

    try:
        return connect(lake)
    except LakeError as exc:
        msg = redact(f"{job}: cannot read the lake {lake!r}: {exc}")  # an s3:// key
        raise JobError(msg) from None


def _event(row: tuple[Any, ...]) -> ShopperEvent:
    kind, ts, session, event_id, user, product, price, quantity, total, items = row
    lines = None
    if items:
        lines = tuple(Item(str(i["product_id"]), price=float(i.get("price") or 0.0),
                           quantity=int(i.get("quantity") or 1)) for i in items)
    return ShopperEvent(event_type=EventType(kind), timestamp_ms=int(ts),
                        session_id=str(session), event_id=str(event_id or ""),
                        user_id=str(user or session), product_id=product, price=price,
                        quantity=quantity, cart_total=total, items=lines)


def _replay(path: Path, history_days: int) -> History:
    decoder = EventDecoder()
    events: list[ShopperEvent] = []
    rejected = 0
    try:
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    events.append(decoder.decode(line))
                except DecodeError:
                    rejected += 1
    except OSError as exc:
        msg = f"weekly-retrain: cannot read the event file {str(path)!r}: {exc.strerror}"
        raise JobError(msg) from None
    if events:
        since = max(e.timestamp_ms for e in events) - history_days * _DAY_MS
        events = [e for e in events if e.timestamp_ms >= since]
    events.sort(key=lambda e: e.timestamp_ms)
    return History(events, "replay", rejected)


def recent_products(lake: str | None, users: set[str], since_ms: int,
                    cap: int) -> dict[str, tuple[str, ...]]:
    """The products each of ``users`` touched in the lake's events at or after
    ``since_ms``, oldest first, no repeats, the latest ``cap``; empty without a lake.

    The work is one scan of the events since ``since_ms`` (the hot job's hour), whatever
    the lake's size before it.
    """
    if not lake or not users or not may_hold_events(lake):
        return {}
    con = _connect(lake, "recent products")
    found: dict[str, dict[str, None]] = {}
    try:
        result = con.execute("SELECT user_id, product_id FROM events WHERE timestamp_ms >= ? "
                             "AND product_id IS NOT NULL ORDER BY timestamp_ms", (since_ms,))
        while rows := result.fetchmany(10_000):
            for user, product in rows:
                if user in users:
                    products = found.setdefault(user, {})
                    products.pop(product, None)
                    products[product] = None
    finally:
        con.close()
    return {user: tuple(products)[-cap:] for user, products in found.items()}
