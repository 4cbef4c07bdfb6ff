"""The embedded store: one SQLite file in WAL mode, no server, survives restarts.

Readers and the writer may be different threads or processes (WAL lets readers go on
while a batch is written); each thread gets its own connection. Expired values are
filtered on read and deleted now and then on write. ``read_only=True`` opens an existing
file for reads only (``serve``'s read workers: SQLite refuses any write on it).

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "features.db"
>>> store = SqliteStore(path)
>>> store.write_batch([StoreEntry("user:u1:orders_count_24hr", 2, 60.0)])
>>> store.close()
>>> again = SqliteStore(path)
>>> again.get("user:u1:orders_count_24hr"), again.get_many(["nope", "user:u1:orders_count_24hr"])
(2, [None, 2])
>>> again.close()
>>> reader = SqliteStore(path, read_only=True)
>>> reader.get("user:u1:orders_count_24hr")
2
>>> reader.write_batch([StoreEntry("k", 1)])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shopstream.stores.errors.StoreError: the store ... is open read-only: no write to 'k'
>>> reader.close()
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from shopstream.stores.base import JsonReads, StoreEntry, StoreError, WriteStats
from shopstream.stores.key_owner import key_owned

__all__ = ["SqliteStore", "temporary_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL
) WITHOUT ROWID
"""
_PURGE_EVERY_S = 30.0
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_POINT_READ = f"SELECT value FROM kv WHERE key = ? AND {_LIVE}"
_RANGE_READ = f"SELECT key, value FROM kv WHERE key >= ? AND key < ? AND {_LIVE}"
_SCAN = (f"SELECT key FROM kv WHERE key >= ? AND key < ? AND {_LIVE} "
         "AND length(key) >= ? AND substr(key, length(key) - ? + 1) = ? ORDER BY key")


class SqliteStore(JsonReads):
    """A :class:`~shopstream.stores.base.FeatureStore` in one SQLite file.

    ``clock`` returns the current time in seconds (wall clock by default; tests inject
    one to check expiry). ``read_only``: the file must exist (a writer made it); every
    write raises :class:`~shopstream.stores.errors.StoreError`.
    """

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self.read_only = read_only
        self.stats = WriteStats()
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._next_purge = 0.0
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        if read_only:
            if not self.path.is_file():
                msg = f"cannot open the store {self.url!r} read-only: no such file"
                raise StoreError(msg)
            self._connection()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create the store directory {str(self.path.parent)!r}: {exc}"
            raise StoreError(msg) from None
        self._connection().execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            if self.read_only:
                # mode=ro: SQLite itself refuses writes; the writer already set WAL mode.
                uri = f"file:{urllib.parse.quote(str(self.path.resolve()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=10.0)
                conn.execute("PRAGMA query_only=ON")
            else:
                conn = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False, timeout=10.0)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            msg = f"cannot open the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def write_batch(self, entries: Sequence[StoreEntry]) -> None:
        if not entries:
            return
        if self.read_only:
            self._refuse(entries[0].key)
        started = time.perf_counter()
        now = self._clock()
        encode = self._encode
        rows = [(key, encode(value), None if ttl is None else now + ttl)
                for key, value, ttl in entries]
        conn = self._connection()
        try:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", rows)
            if now >= self._next_purge:
                self._next_purge = now + _PURGE_EVERY_S
                conn.execute("DELETE FROM kv WHERE expires_at <= ?", (now,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            msg = f"cannot write to the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        self.stats.observe(time.perf_counter() - started, len(rows))

    def get_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored JSON bytes under ``keys`` (see :mod:`shopstream.stores.raw`).

        Expired values are left out by SQLite itself, and rows come back as
        ``(key, value)`` pairs made into a dict in C: most of a read's cost is then
        SQLite's (a shopper's 23 features: one range scan)."""
        if not keys:
            return []
        now = self._clock()
        try:
            conn = self._connection()
            if len(keys) == 1:
                # The API's single-value reads: one primary-key lookup (a statement
                # sqlite3 keeps prepared in its per-connection cache).
                row = conn.execute(_POINT_READ, (keys[0], now)).fetchone()
                return [None if row is None else row[0]]
            prefix = _entity_prefix(keys)
            if prefix:
                # One range scan over the entity's keys beats len(keys) index lookups.
                found = dict(conn.execute(_RANGE_READ, (prefix, _after(prefix), now)
                                          ).fetchall())
            else:
                marks = ",".join("?" * len(keys))
                found = dict(conn.execute(
                    f"SELECT key, value FROM kv WHERE key IN ({marks}) AND {_LIVE}",
                    (*keys, now)).fetchall())
        except sqlite3.Error as exc:
            msg = f"cannot read the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        return [found.get(key) for key in keys]

    def scan_keys(self, prefix: str, suffix: str = "") -> list[str]:
        """Every live key starting with ``prefix`` and ending with ``suffix``, sorted.

        Cost: one range scan of the keys starting with ``prefix``; the suffix is
        checked by SQLite, so only the matching keys become Python strings.

        >>> import tempfile
        >>> store = SqliteStore(tempfile.mkdtemp() + "/s.db")
        >>> store.write_batch([StoreEntry("user:b:x", 1), StoreEntry("user:a:x", 2),
        ...                    StoreEntry("user:a:y", 3), StoreEntry("user:x", 4)])
        >>> store.scan_keys("user:", ":x"), store.scan_keys("user:a:")
        (['user:a:x', 'user:b:x'], ['user:a:x', 'user:a:y'])
        """
        try:
            rows = self._connection().execute(_SCAN, (
                prefix, _after(prefix), self._clock(), len(prefix) + len(suffix),
                len(suffix), suffix)).fetchall()
        except sqlite3.Error as exc:
            msg = f"cannot scan the keys {prefix}*{suffix} of the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        return [row[0] for row in rows]

    def _refuse(self, key: str) -> None:
        msg = f"the store {self.url!r} is open read-only: no write to {key!r}"
        raise StoreError(msg)

    def delete(self, keys: Sequence[str]) -> None:
        if self.read_only and keys:
            self._refuse(keys[0])
        conn = self._connection()
        conn.executemany("DELETE FROM kv WHERE key = ?", [(key,) for key in keys])

    def erase_entities(self, ids: Sequence[str], mentions: Sequence[bytes]) -> list[str]:
        """Delete every entry whose key is one of ``ids``'s (``user:ID:...``,
        ``session:ID:...``, ``recs:session:ID``: see
        :func:`~shopstream.stores.key_owner.key_owned`) or whose stored value
        contains one of ``mentions`` (JSON strings such as ``b'"ID"'``), then rewrite the
        file (``secure_delete``, ``VACUUM``, WAL truncated) so no byte of them stays in
        free pages or the write-ahead log; return the deleted keys.

        Cost: one scan of the table and one rewrite of the file (an erasure is rare).
        """
        if self.read_only:
            self._refuse(f"the keys of {len(ids)} id(s)")
        by_key = ["instr(key, ?) > 0"] * len(ids)
        by_value = ["instr(value, ?) > 0"] * len(mentions)
        if not by_key and not by_value:
            return []
        owners = frozenset(ids)
        params = [*ids, *(bytes(m) for m in mentions)]
        mentioned = " OR ".join(by_value) or "0"
        conn = self._connection()
        try:
            conn.execute("PRAGMA secure_delete=ON")
            # SQL narrows to keys holding an id somewhere; key_owned decides exactly.
            keys = [key for key, named in conn.execute(
                f"SELECT key, {mentioned} FROM kv WHERE {' OR '.join(by_key + by_value)}",
                [*(bytes(m) for m in mentions), *params])
                if named or key_owned(key, owners)]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("DELETE FROM kv WHERE key = ?", [(key,) for key in keys])
            conn.execute("COMMIT")
            conn.execute("VACUUM")
            for _ in range(100):  # a reader in another process may hold the log a moment
                busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                if not busy:
                    break
                time.sleep(0.05)
            else:
                msg = (f"erased from the store {self.url!r}, but its write-ahead log is held "
                       "by a reader and still has the old pages: run the erasure again")
                raise StoreError(msg)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            msg = f"cannot erase from the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        return keys

    def ping(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except (sqlite3.Error, StoreError):
            return False
        return True

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def temporary_store(values: Mapping[str, Any] | None = None) -> SqliteStore:
    """A new store in a new temporary directory, holding ``values`` (key -> value, no
    expiry): the store of the examples of the modules reading one.

    >>> store = temporary_store({"a": 1})
    >>> store.get("a"), store.path.name
    (1, 's.db')
    """
    store = SqliteStore(tempfile.mkdtemp(prefix="shopstream-") + "/s.db")
    if values:
        store.write_batch([StoreEntry(key, value) for key, value in values.items()])
    return store


def _after(prefix: str) -> str:
    """The least string above every string starting with ``prefix`` (a range's end)."""
    if not prefix:
        return "\U0010ffff" * 2
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _entity_prefix(keys: Sequence[str]) -> str:
    """``...:id:`` when many keys are one entity's (``user:u1:a``, ``user:u1:b``...,
    ``features:user:u1:5min``...): the first key up to its last colon, shared by all."""
    if len(keys) < 4:
        return ""
    first = keys[0]
    cut = first.rfind(":")
    if cut < 0:
        return ""
    prefix = first[:cut + 1]
    return prefix if all(key.startswith(prefix) for key in keys) else ""
