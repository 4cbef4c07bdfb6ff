"""Open a store from what the user typed: a file path, or ``redis://HOST:PORT``.

Examples
--------
>>> import tempfile
>>> store = open_store(tempfile.mkdtemp() + "/features.db")
>>> type(store).__name__, store.ping()
('SqliteStore', True)
>>> store.close()
>>> open_store("")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: --store must be a file path or redis://HOST:PORT, got ''

A store URL is shown (``/health``, banners, error messages) only through
:func:`redact_url` (:func:`shopstream.redaction.redact`), which hides passwords in URLs,
query strings, key=value strings and free text:

>>> redact_url("redis://shop:s3cret@cache:6379/0")
'redis://shop:***@cache:6379/0'
>>> redact_url("cannot read the store 'rediss://:s3cret@cache:6380?password=x&db=1'")
"cannot read the store 'rediss://:***@cache:6380?password=***&db=1'"
>>> redact_url("redis://token@cache:6379"), redact_url("/data/features.db")
('redis://***@cache:6379', '/data/features.db')
>>> redact_url("rediss://shop:p@ss:w@cache:6380"), redact_url("password='a b' port=1")
('rediss://shop:***@cache:6380', 'password=*** port=1')
"""

from __future__ import annotations

from shopstream.errors import ConfigError
from shopstream.redaction import redact
from shopstream.stores.base import FeatureStore

__all__ = ["open_store", "redact_url"]

redact_url = redact  # the one redaction of shown text, under the stores' old name


def open_store(spec: str, read_only: bool = False) -> FeatureStore:
    """A :class:`FeatureStore` for ``spec``: Redis for ``redis://...``, else SQLite.

    ``read_only``: for a reader beside the process that writes (``serve``'s read
    workers); a SQLite file must then exist and refuses writes. A Redis client writes
    only when asked, so it opens the same way."""
    if not spec.strip():
        msg = f"--store must be a file path or redis://HOST:PORT, got {spec!r}"
        raise ConfigError(msg)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from shopstream.stores.redis_store import RedisStore
        store = RedisStore(spec)
        # The store names itself by ``url`` in its errors, /health and banners: never
        # with the password it connects with.
        store.url = redact_url(spec)
        return store
    from shopstream.stores.embedded import SqliteStore
    return SqliteStore(spec, read_only=read_only)
