"""Checks a long-running command makes before it says anything: is the port free, does
the store answer, does the database accept a connection? Each failure is one line
(a :class:`~shopstream.errors.ShopstreamError` the CLI prints), never a banner followed
by a traceback or by a server that drops every write.

Examples
--------
>>> import socket
>>> with socket.socket() as busy:
...     busy.bind(("127.0.0.1", 0)); busy.listen()
...     port = busy.getsockname()[1]
...     try:
...         require_free_port("127.0.0.1", port, "serve --port")
...     except Exception as exc:
...         print(str(exc).replace(str(port), "P"))
serve --port: 127.0.0.1:P is already in use (another server listens there); choose another port
>>> require_free_port("127.0.0.1", 0, "--port")  # 0 picks a free port: nothing to check
"""

from __future__ import annotations

import socket

from shopstream.errors import ConfigError
from shopstream.stores.base import FeatureStore, StoreError
from shopstream.stores.open import redact_url

__all__ = ["require_free_port", "require_postgres", "require_store"]


def require_free_port(host: str, port: int, option: str) -> None:
    """Raise :class:`ConfigError` when nothing can listen on ``host:port`` (busy, or an
    address of another machine). Binds the way uvicorn and tansu do (``SO_REUSEADDR``),
    so a port held only by connections closing (TIME_WAIT) counts as free."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as exc:
            where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
            why = ("is already in use (another server listens there); choose another port"
                   if exc.errno in (98, 48) else f"cannot be listened on: {exc.strerror}")
            msg = f"{option}: {where} {why}"
            raise ConfigError(msg) from None


def require_store(store: FeatureStore) -> None:
    """Raise :class:`StoreError` naming the store (password hidden) when it does not
    answer a read: a server that is down at start is a configuration error, not an
    outage to ride out."""
    try:
        store.get_many(["shopstream:preflight"])
    except StoreError as exc:
        reason = str(exc).split(": ", 1)[-1]
        msg = f"the store {redact_url(store.url)} is unreachable: {redact_url(reason)}"
        raise StoreError(msg) from None


def require_postgres(dsn: str, timeout_s: int = 5) -> None:
    """Raise :class:`ConfigError` when PostgreSQL at ``dsn`` refuses a connection: one
    line, the password hidden wherever it shows (quoted, in a URL, or quoted back by
    libpq's reason; :func:`~shopstream.shopdb.connection.connection_reason`)."""
    from shopstream.shopdb.connection import connection_reason, psycopg2, safe_dsn

    pg = psycopg2()
    try:
        pg.connect(dsn, connect_timeout=timeout_s).close()
    except pg.Error as exc:
        msg = f"PostgreSQL at {safe_dsn(dsn)} is unreachable: {connection_reason(exc, dsn)}"
        raise ConfigError(msg) from None
