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
"""

from __future__ import annotations

from shopstream.errors import ConfigError
from shopstream.stores.base import FeatureStore

__all__ = ["open_store"]


def open_store(spec: str) -> FeatureStore:
    """A :class:`FeatureStore` for ``spec``: Redis for ``redis://...``, else SQLite."""
    if not spec.strip():
        msg = f"--store must be a file path or redis://HOST:PORT, got {spec!r}"
        raise ConfigError(msg)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from shopstream.stores.redis_store import RedisStore
        return RedisStore(spec)
    from shopstream.stores.embedded import SqliteStore
    return SqliteStore(spec)
