"""The Redis store, for real deployments: redis-py with the hiredis parser, pipelined.

Values are JSON strings under the keys of :mod:`shopstream.stores.keys`; a time to live
becomes ``PX`` on ``SET``. A batch goes out pipelined (one round trip per 2,000
commands, no transaction); reads of many keys are one ``MGET``.

Examples
--------
>>> RedisStore("http://localhost")
Traceback (most recent call last):
...
shopstream.stores.errors.StoreError: a Redis store URL starts with redis://, got 'http://localhost'
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import msgspec

from shopstream.errors import require
from shopstream.stores.base import JsonReads, StoreEntry, StoreError, WriteStats
from shopstream.stores.key_owner import key_owned

__all__ = ["RedisStore"]

_INSTALL = "redis[hiredis]"
# Commands per round trip: large enough to amortise it, small enough to stay in buffers.
_CHUNK = 2_000
_GLOB = re.compile(r"([*?\[\]\\])")


def _glob_escape(text: str) -> str:
    r"""``text`` matched literally by a Redis glob pattern.

    >>> _glob_escape("user:a*b[1]?\\")
    'user:a\\*b\\[1\\]\\?\\\\'
    """
    return _GLOB.sub(r"\\\1", text)


class RedisStore(JsonReads):
    """A :class:`~shopstream.stores.base.FeatureStore` on a Redis server at ``url``.

    ``volatile``: a Redis server restarted without persistence comes back empty, so
    writers keep a mirror to write again after an outage (:mod:`shopstream.stores.retry`).
    """

    volatile = True

    def __init__(self, url: str, socket_timeout_s: float = 5.0) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            msg = f"a Redis store URL starts with redis://, got {url!r}"
            raise StoreError(msg)
        redis = require("redis", _INSTALL)
        self.url = url
        self.stats = WriteStats()
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(url, socket_timeout=socket_timeout_s,
                                            socket_connect_timeout=socket_timeout_s)
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode

    def write_batch(self, entries: Sequence[StoreEntry]) -> None:
        if not entries:
            return
        started = time.perf_counter()
        pool = self._client.connection_pool
        try:
            conn = pool.get_connection()
        except self._errors as exc:
            msg = f"cannot write to the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        try:
            for start in range(0, len(entries), _CHUNK):
                chunk = entries[start:start + _CHUNK]
                conn.send_packed_command([self._pack(chunk)])
                for _ in chunk:
                    conn.read_response()
        except self._errors as exc:
            conn.disconnect()
            msg = f"cannot write to the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        finally:
            pool.release(conn)
        self.stats.observe(time.perf_counter() - started, len(entries))

    def _pack(self, chunk: Sequence[StoreEntry]) -> bytes:
        # RESP written by hand: redis-py's generic packing costs more than the round trip.
        encode = self._encode
        parts = []
        for key, value, ttl in chunk:
            k = key.encode()
            v = encode(value)
            if ttl is None:
                parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n"
                             % (len(k), k, len(v), v))
            else:
                px = b"%d" % max(1, int(ttl * 1000))
                parts.append(b"*5\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$2\r\nPX\r\n"
                             b"$%d\r\n%b\r\n" % (len(k), k, len(v), v, len(px), px))
        return b"".join(parts)

    def get_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored JSON bytes under ``keys`` (see :mod:`shopstream.stores.raw`)."""
        if not keys:
            return []
        found: list[bytes | None] = self._call("MGET", *keys)
        return found

    def _call(self, *command: str) -> Any:
        """One command on a pooled connection: a third of ``execute_command``'s cost,
        which matters on the API's read path (no retries: the caller gets a StoreError)."""
        pool = self._client.connection_pool
        conn = None
        try:
            conn = pool.get_connection()
            conn.send_command(*command)
            return conn.read_response()
        except self._errors as exc:
            if conn is not None:
                conn.disconnect()
            msg = f"cannot read the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        finally:
            if conn is not None:
                pool.release(conn)

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            try:
                self._client.execute_command("DEL", *keys)
            except self._errors as exc:
                msg = f"cannot delete from the store {self.url!r}: {exc}"
                raise StoreError(msg) from None

    def scan_keys(self, prefix: str, suffix: str = "") -> list[str]:
        """Every key starting with ``prefix`` and ending with ``suffix``, sorted.

        Cost: a ``SCAN`` of every key of the database, 1,000 at a time, matched by
        Redis against ``prefix*suffix`` (glob characters in them escaped)."""
        pattern = _glob_escape(prefix) + "*" + _glob_escape(suffix)
        least = len(prefix) + len(suffix)
        try:
            found = {raw.decode("utf-8", "surrogateescape")
                     for raw in self._client.scan_iter(match=pattern, count=1_000)}
        except self._errors as exc:
            msg = f"cannot scan the keys {pattern} of the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        return sorted(key for key in found if len(key) >= least)

    def erase_entities(self, ids: Sequence[str], mentions: Sequence[bytes]) -> list[str]:
        """Delete every key of one of ``ids`` (``user:ID:...``, ``session:ID:...``,
        ``recs:session:ID``: see :func:`~shopstream.stores.key_owner.key_owned`) or whose
        value contains one of
        ``mentions`` (JSON strings such as ``b'"ID"'``); return the deleted keys.

        Cost: a ``SCAN`` of every key and an ``MGET`` of every value, 1,000 at a time (an
        erasure is rare). Redis's own persistence (RDB snapshots, the AOF) keeps the old
        values until it is rewritten: see docs/privacy.md.
        """
        owners = frozenset(ids)
        found: list[str] = []
        try:
            cursor = 0
            while True:
                cursor, batch = self._client.scan(cursor=cursor, count=1_000)
                if batch:
                    values = self._client.mget(batch)
                    for raw_key, value in zip(batch, values, strict=True):
                        key = raw_key.decode("utf-8", "surrogateescape")
                        if key_owned(key, owners) or (
                                value is not None and any(m in value for m in mentions)):
                            found.append(key)
                if cursor == 0:
                    break
            for start in range(0, len(found), _CHUNK):
                self._client.execute_command("DEL", *found[start:start + _CHUNK])
        except self._errors as exc:
            msg = f"cannot erase from the store {self.url!r}: {exc}"
            raise StoreError(msg) from None
        return found

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except self._errors:
            return False

    def close(self) -> None:
        self._client.close()
