"""MovieLens 100k ratings as browsing sessions cut at idle gaps.

The ratings come as RecBole's atomic ``.inter`` file (see
:data:`shopstream.datasets.registry.DATASETS`): tab-separated, a typed header
``user_id:token	item_id:token	rating:float	timestamp:float``, one rating per line with
its time in epoch seconds. :func:`session_events` turns each user's ratings, in time
order, into sessions: a new one starts whenever the user was idle for more than the gap
(30 minutes unless told otherwise). A rating is read as a product view (``VIEW_PRODUCT``).

Examples
--------
>>> import io
>>> sample = io.StringIO(
...     "user_id:token\\titem_id:token\\trating:float\\ttimestamp:float\\n"
...     "196\\t242\\t3\\t881250949\\n"
...     "196\\t302\\t4\\t881251549\\n"
...     "22\\t377\\t1\\t878887116\\n"
...     "196\\t51\\t2\\t881260000\\n")
>>> ratings = read_ratings(sample)
>>> ratings[0]
Rating(user_id='196', item_id='242', rating=3.0, timestamp_ms=881250949000)
>>> for e in session_events(ratings):
...     print(e.session_id, e.timestamp, e.item, e.event_type)
u22-1 1997-11-07T07:18:36Z 377 VIEW_PRODUCT
u196-1 1997-12-04T15:55:49Z 242 VIEW_PRODUCT
u196-1 1997-12-04T16:05:49Z 302 VIEW_PRODUCT
u196-2 1997-12-04T18:26:40Z 51 VIEW_PRODUCT
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from shopstream.datasets.instacart import SessionEvent
from shopstream.datasets.textfile import read_text_file
from shopstream.errors import DatasetError

__all__ = ["SESSION_GAP", "Rating", "load_ratings", "read_ratings", "session_events"]

SESSION_GAP = timedelta(minutes=30)
"""Idle time after which a user's next rating opens a new session (strictly more)."""

EVENT_TYPE = "VIEW_PRODUCT"

_REQUIRED = ("user_id", "item_id", "rating", "timestamp")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Rating:
    """One rating: who rated which movie, how, and when."""

    user_id: str
    item_id: str
    rating: float
    timestamp_ms: int


def read_ratings(source: TextIO, name: str = "ml-100k.inter") -> list[Rating]:
    """Parse an ``.inter`` file; a :class:`DatasetError` names the first bad line.

    Columns are found by name (the part of each header field before ``:``), so their
    order does not matter; extra columns are ignored.

    Examples
    --------
    >>> import io
    >>> read_ratings(io.StringIO("user_id:token\\titem_id:token\\trating:float\\n"))
    Traceback (most recent call last):
    ...
    shopstream.errors.DatasetError: ml-100k.inter: the header lacks ['timestamp']; \
got 'user_id:token\\titem_id:token\\trating:float'
    """
    header = source.readline().rstrip("\r\n")
    names = [field.split(":", 1)[0].strip() for field in header.split("\t")]
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        msg = f"{name}: the header lacks {missing}; got {header!r}"
        raise DatasetError(msg)
    user, item, rating, stamp = (names.index(c) for c in _REQUIRED)
    ratings = []
    for number, line in enumerate(source, start=2):
        text = line.rstrip("\r\n")
        if not text:
            continue
        fields = text.split("\t")
        if len(fields) != len(names):
            msg = (f"{name} line {number}: expected {len(names)} tab-separated fields, "
                   f"got {len(fields)}: {text!r}")
            raise DatasetError(msg)
        if not fields[user] or not fields[item]:
            msg = f"{name} line {number}: user_id and item_id are required: {text!r}"
            raise DatasetError(msg)
        try:
            ratings.append(Rating(fields[user], fields[item], float(fields[rating]),
                                  round(float(fields[stamp]) * 1000)))
        except (ValueError, OverflowError) as exc:
            msg = f"{name} line {number}: {exc}: {text!r}"
            raise DatasetError(msg) from None
    return ratings


def load_ratings(path: Path) -> list[Rating]:
    """:func:`read_ratings` on a file."""
    return read_text_file(path, lambda source: read_ratings(source, str(path)),
                          "movielens ratings")


def session_events(ratings: Iterable[Rating], gap: timedelta = SESSION_GAP
                   ) -> list[SessionEvent]:
    """Each user's ratings cut into sessions ``u{user}-{n}`` at idle gaps above ``gap``.

    A user's ratings are taken in time order (equal times keep file order); session
    numbers start at 1 per user. A gap of exactly ``gap`` stays in the session. Events come
    back sorted by time (then user and position), ready to replay.

    Examples
    --------
    >>> r = [Rating("7", "a", 5.0, 0), Rating("7", "b", 4.0, 1_800_000),
    ...      Rating("7", "c", 3.0, 3_600_001)]
    >>> [e.session_id for e in session_events(r)]
    ['u7-1', 'u7-1', 'u7-2']
    >>> session_events(r, timedelta(0))
    Traceback (most recent call last):
    ...
    shopstream.errors.DatasetError: session gap must be positive, got 0:00:00
    """
    if gap <= timedelta(0):
        msg = f"session gap must be positive, got {gap}"
        raise DatasetError(msg)
    gap_ms = gap // timedelta(milliseconds=1)
    by_user: dict[str, list[Rating]] = {}
    for rating in ratings:
        by_user.setdefault(rating.user_id, []).append(rating)
    timed: list[tuple[int, str, int, SessionEvent]] = []
    for user_id, history in by_user.items():
        history.sort(key=lambda r: r.timestamp_ms)  # stable: ties keep file order
        session, last_ms = 0, None
        for position, rating in enumerate(history):
            if last_ms is None or rating.timestamp_ms - last_ms > gap_ms:
                session += 1
            last_ms = rating.timestamp_ms
            event = SessionEvent(f"u{user_id}-{session}", _iso(rating.timestamp_ms),
                                 rating.item_id, user_id, EVENT_TYPE)
            timed.append((rating.timestamp_ms, user_id, position, event))
    timed.sort(key=lambda entry: entry[:3])
    return [event for *_, event in timed]


def _iso(timestamp_ms: int) -> str:
    moment = _UNIX_EPOCH + timedelta(milliseconds=timestamp_ms)
    if timestamp_ms % 1000:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
