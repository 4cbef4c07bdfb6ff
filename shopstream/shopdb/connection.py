"""Connections to the shop database, with errors that name the server and say why.

``psycopg2`` is an optional dependency (``pip install 'shopstream[postgres]'``); it is
imported on first use so the rest of shopstream works without it.

Examples
--------
>>> redact("postgresql://shop:secret@127.0.0.1:5432/shop")
'postgresql://shop:***@127.0.0.1:5432/shop'
>>> redact("host=db user=shop password=secret dbname=shop")
'host=db user=shop password=*** dbname=shop'

Work on the shop goes through :func:`connected`: one connection for a ``with`` block,
closed after it, and any psycopg2 error in the block turned into a :class:`ShopDbError`
naming the server (password hidden).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

# ShopDbError lives in shopdb/errors.py; imported from here too.
from shopstream.errors import require
from shopstream.shopdb.errors import ShopDbError

__all__ = ["ShopDbError", "connect", "connected", "describe", "psycopg2", "redact"]

_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)\S+")


def psycopg2() -> ModuleType:
    """The ``psycopg2`` module, or an error naming the extra to install."""
    return require("psycopg2", "shopstream[postgres]")


def redact(dsn: str) -> str:
    """``dsn`` with its password hidden, for error messages and logs."""
    return _KV_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", dsn))


def connect(dsn: str, **kwargs: Any) -> Any:
    """A psycopg2 connection to ``dsn`` in UTC; :class:`ShopDbError` if it fails."""
    pg = psycopg2()
    try:
        return pg.connect(dsn, options="-c timezone=UTC", **kwargs)
    except pg.Error as exc:
        raise ShopDbError(describe(exc, dsn)) from None


@contextmanager
def connected(dsn: str, **kwargs: Any) -> Iterator[Any]:
    """A :func:`connect` connection for the ``with`` block, closed after it; a psycopg2
    error raised in the block (or on opening) is a :class:`ShopDbError` naming the server.

    The connection's own ``with`` (one transaction) goes inside:
    ``with connected(dsn) as conn, conn, conn.cursor() as cur: ...``.
    """
    conn = connect(dsn, **kwargs)
    try:
        yield conn
    except psycopg2().Error as exc:
        raise ShopDbError(describe(exc, dsn)) from None
    finally:
        conn.close()


def describe(exc: Exception, dsn: str) -> str:
    """One line about a psycopg2 error at ``dsn``."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"PostgreSQL at {redact(dsn)}: {first}"
