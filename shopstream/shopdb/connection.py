"""Connections to the shop database, with errors that name the server and say why.

``psycopg2`` is an optional dependency (``pip install 'shopstream[postgres]'``); it is
imported on first use so the rest of shopstream works without it.

Examples
--------
>>> redact("postgresql://shop:secret@127.0.0.1:5432/shop")
'postgresql://shop:***@127.0.0.1:5432/shop'
>>> redact("host=db user=shop password='s3cret word' dbname=shop")
'host=db user=shop password=*** dbname=shop'

An error is one line (:func:`describe`): the server's reason, without libpq's repetition
of the host and port, its severity or its hints, and with the password hidden wherever
it shows (:func:`connection_reason`).

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
from shopstream.redaction import hide_secrets, redact, secrets_of
from shopstream.shopdb.errors import ShopDbError

__all__ = ["ShopDbError", "connect", "connected", "connection_reason", "describe", "psycopg2",
           "redact", "safe_dsn"]

# libpq's own wording around a reason: the server tried (the DSN names it) and severity.
_LIBPQ_WHERE = re.compile(r'connection to server (?:at "[^"]*"(?: \([^)]*\))?, port \d+'
                          r'|on socket "[^"]*") failed: ')
_SEVERITY = re.compile(r"^(?:FATAL|ERROR|PANIC):\s+")


def psycopg2() -> ModuleType:
    """The ``psycopg2`` module, or an error naming the extra to install."""
    return require("psycopg2", "shopstream[postgres]")


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


def _secrets(dsn: str) -> list[str]:
    """:func:`~shopstream.redaction.secrets_of` ``dsn``, with the password libpq reads."""
    try:
        parsed = psycopg2().extensions.parse_dsn(dsn).get("password") or ""  # "": none
    except psycopg2().Error:  # a DSN libpq cannot parse: its reason quotes a piece of it
        return secrets_of(dsn)
    return secrets_of(dsn, parsed)


def safe_dsn(dsn: str) -> str:
    """``dsn`` to show, password hidden: :func:`~shopstream.redaction.redact`, and for a
    DSN libpq cannot parse, every word after ``password=`` too (an unquoted password
    with a blank: libpq reads its second word as the next key).

    Examples
    --------
    >>> safe_dsn("host=db password='s3cret word' dbname=shop")
    'host=db password=*** dbname=shop'
    >>> safe_dsn("host=db password=s3cret word")
    'host=db password=*** ***'
    """
    try:
        psycopg2().extensions.parse_dsn(dsn)
    except psycopg2().Error:
        return hide_secrets(dsn, secrets_of(dsn))
    return redact(dsn)


def connection_reason(exc: Exception, dsn: str) -> str:
    """psycopg2's ``exc`` at ``dsn`` in one line: the server's primary message (or
    libpq's first line) without libpq's repetition of the host and port, its severity
    or its hints, and with the DSN's password hidden wherever it shows.

    Examples
    --------
    >>> error = psycopg2().OperationalError(
    ...     'connection to server at "127.0.0.1", port 9 failed: Connection refused\\n'
    ...     '\\tIs the server running on that host and accepting TCP/IP connections?\\n')
    >>> connection_reason(error, "postgresql://shop:pw@127.0.0.1:9/shop")
    'Connection refused'
    >>> error = psycopg2().OperationalError(
    ...     'invalid dsn: missing "=" after "word" in connection info string\\n')
    >>> connection_reason(error, "host=db password=s3cret word")
    'invalid dsn: missing "=" after "***" in connection info string'
    """
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    text = primary or next((line for line in str(exc).splitlines() if line.strip()), "")
    reason = _SEVERITY.sub("", _LIBPQ_WHERE.sub("", " ".join(text.split())))
    return hide_secrets(reason, _secrets(dsn)) or type(exc).__name__


def describe(exc: Exception, dsn: str, what: str | None = None) -> str:
    """One line about psycopg2's ``exc`` at ``dsn`` (while doing ``what``): the server,
    password hidden, then :func:`connection_reason`.

    Examples
    --------
    >>> error = psycopg2().OperationalError("server closed the connection unexpectedly")
    >>> describe(error, "host=db password='a b'", "lost")
    'PostgreSQL at host=db password=***: lost: server closed the connection unexpectedly'
    """
    doing = f"{what}: " if what else ""
    return f"PostgreSQL at {safe_dsn(dsn)}: {doing}{connection_reason(exc, dsn)}"
