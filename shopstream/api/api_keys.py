"""API keys: where they come from, how they are kept, and which one a request carries.

Keys are read once at start (a file, one a line, and ``SHOPSTREAM_API_KEYS``), kept as
SHA-256 digests in a :class:`KeyRing` and compared in constant time. A request presents
its key as ``X-API-Key: KEY``, ``Authorization: Bearer KEY`` or, where a browser cannot
set headers (``GET /i`` pixels, WebSockets), as ``?api_key=KEY``. What needs a key is
:class:`~shopstream.api.security.Guard`'s to decide.

Examples
--------
>>> keys = KeyRing(("k" * 16,))
>>> keys.allows("k" * 16), keys.allows("k" * 15), keys.allows(None)
(True, False, False)
>>> presented_key({"headers": [(b"authorization", b"Bearer " + b"k" * 16)]}) == "k" * 16
True
>>> request_allowed(keys, {"headers": [], "query_string": b"api_key=" + b"k" * 16})
True
>>> request_allowed(KeyRing(()), {"headers": []})   # no key configured: open
True
>>> load_api_keys(None, {"SHOPSTREAM_API_KEYS": " key-0123456789abcdef, other-0123456789abcd "})
('key-0123456789abcdef', 'other-0123456789abcd')
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from shopstream.errors import ConfigError

__all__ = ["API_KEYS_ENV", "MIN_KEY_LENGTH", "KeyRing", "load_api_keys", "presented_key",
           "request_allowed"]

API_KEYS_ENV = "SHOPSTREAM_API_KEYS"
MIN_KEY_LENGTH = 16

Scope = MutableMapping[str, Any]


def load_api_keys(path: str | Path | None, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Keys from ``path`` (one a line; blank lines and ``#`` comments skipped) and from
    ``SHOPSTREAM_API_KEYS`` in ``environ`` (separated by commas or white space)."""
    keys: list[str] = []
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"--api-key-file {str(path)!r} cannot be read: {exc.__class__.__name__}"
            raise ConfigError(msg) from None
        found = [line.strip() for line in text.splitlines()]
        found = [line for line in found if line and not line.startswith("#")]
        if not found:
            msg = f"--api-key-file {str(path)!r} holds no key (one key a line)"
            raise ConfigError(msg)
        keys.extend(found)
    keys.extend(k for k in re.split(r"[\s,]+", environ.get(API_KEYS_ENV, "")) if k)
    return tuple(dict.fromkeys(keys))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The configured keys, kept as digests and compared in constant time."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._digests = tuple(_digest(k) for k in keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def allows(self, presented: str | None) -> bool:
        """Whether ``presented`` is one of the keys; the time taken does not depend on
        which key matched, nor on how much of one did (digests of equal length)."""
        if presented is None:
            return False
        candidate = _digest(presented)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(candidate, digest)
        return found


def presented_key(scope: Scope) -> str | None:
    """The key a request carries: ``X-API-Key``, ``Authorization: Bearer`` or
    ``?api_key=``."""
    for name, value in scope.get("headers", ()):
        if name == b"x-api-key":
            key: str = value.decode("latin-1").strip()
            return key
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return str(token).strip()
    query = scope.get("query_string", b"")
    if b"api_key=" in query:
        for name, value in parse_qsl(query.decode("latin-1")):
            if name == "api_key":
                return str(value)
    return None


def request_allowed(keys: KeyRing, scope: Scope) -> bool:
    """Whether a request may see what keys protect (always, when no key is configured)."""
    return not keys or keys.allows(presented_key(scope))
