"""Keyed pseudonyms of user ids, applied where events enter the pipeline.

With a key configured (``--pseudonymise-key-file FILE`` or the ``SHOPSTREAM_PSEUDONYM_KEY``
environment variable), every decoded event's ``userId`` is replaced by
``ps_`` + the first 128 bits of HMAC-SHA256(key, userId) in hex: the same user always maps
to the same pseudonym (so features, profiles and recommendations still work), and without
the key the pseudonym cannot be traced back nor recomputed from a guess of the raw id.
The raw id is therefore never held by an operator, and never written to an output, the
store, the lake or a checkpoint.

A line that fails to decode would carry its original bytes (and the raw id) into the
dead-letter stream: :meth:`Pseudonymiser.redact` pseudonymises the ``userId`` of a dead
letter that is a JSON object, and replaces any other line (not JSON, not an object, an
id of the wrong type) by a note giving its length only.

This module depends only on the event model and the standard library: the decoder
(``shopstream.events.decode``) imports it lazily, when a key is configured.

Examples
--------
>>> p = Pseudonymiser(b"0123456789abcdef-secret")
>>> p.pseudonym("alice") == p.pseudonym("alice"), p.pseudonym("alice")[:3]
(True, 'ps_')
>>> p.pseudonym("alice") == Pseudonymiser(b"another-key-0123456").pseudonym("alice")
False
>>> p.pseudonym(p.pseudonym("alice")) == p.pseudonym("alice")  # idempotent
True
>>> from shopstream.events.model import EventType, ShopperEvent
>>> event = p.apply(ShopperEvent(EventType.PAGE_VIEW, 5, "s1", user_id="alice"))
>>> event.user_id == p.pseudonym("alice"), event.session_id
(True, 's1')
>>> b"alice" in p.redact(b'{"eventType":"TELEPORT","userId":"alice","sessionId":"s"}')
False
>>> p.redact(b'{"userId": "alice"')
b'"<redacted: 18 bytes, not a JSON object>"'
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from msgspec.structs import replace

from shopstream.errors import ConfigError
from shopstream.events.model import ShopperEvent

__all__ = ["KEY_ENV", "MIN_KEY_BYTES", "PREFIX", "Pseudonymiser", "from_environment",
           "load_key"]

KEY_ENV: Final = "SHOPSTREAM_PSEUDONYM_KEY"
"""Environment variable holding the pseudonymisation key (text, at least 16 bytes)."""
#: Shortest key accepted: a short key can be brute-forced from guesses of user ids.
MIN_KEY_BYTES: Final = 16
#: What every pseudonym starts with (so a pseudonymised id is never pseudonymised twice).
PREFIX: Final = "ps_"
_HEX_CHARS = 32
#: Wire names of the fields that hold a user id in an input line.
_USER_FIELDS = ("userId",)
#: Snowplow fields whose content (JSON, or base64 JSON) may hold user entities.
_OPAQUE = frozenset({"co", "cx", "ue_pr", "ue_px"})


class Pseudonymiser:
    """Replaces user ids by keyed HMAC-SHA256 pseudonyms.

    Cost: one HMAC-SHA256 per id not seen lately (about a microsecond: the keyed inner
    and outer hashes are prepared once and copied), a dictionary lookup for the others;
    the cache of recent pseudonyms holds at most ``CACHE_SIZE`` ids (it is emptied when
    full). The same id gives the same pseudonym in every process that has the key.
    """

    __slots__ = ("_cache", "_inner", "_key", "_outer")

    #: Most ids whose pseudonym is remembered (in memory only, never written).
    CACHE_SIZE = 65_536

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            msg = (f"Pseudonymiser: the key must have at least {MIN_KEY_BYTES} bytes, got "
                   f"{len(key)} (--pseudonymise-key-file or {KEY_ENV})")
            raise ConfigError(msg)
        self._key = key
        # HMAC (RFC 2104) by hand: hashing the padded key once, then copying the states,
        # saves building an HMAC object per id.
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block,
                                                                                   b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self._cache: dict[str, str] = {}

    def __repr__(self) -> str:
        return "Pseudonymiser(<key hidden>)"

    def pseudonym(self, user_id: str) -> str:
        """The pseudonym of ``user_id`` (a pseudonym is returned unchanged).

        >>> import hmac
        >>> p = Pseudonymiser(b"k" * 16)
        >>> p.pseudonym("u") == "ps_" + hmac.new(b"k" * 16, b"u", "sha256").hexdigest()[:32]
        True
        """
        cache = self._cache
        found = cache.get(user_id)
        if found is not None:
            return found
        if is_pseudonym(user_id):
            return user_id
        inner = self._inner.copy()
        inner.update(user_id.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        made = PREFIX + outer.hexdigest()[:_HEX_CHARS]
        if len(cache) >= self.CACHE_SIZE:
            cache.clear()
        cache[user_id] = made
        return made

    def apply(self, event: ShopperEvent) -> ShopperEvent:
        """``event`` with its user id pseudonymised."""
        return replace(event, user_id=self.pseudonym(event.user_id))

    def redact(self, raw: bytes) -> bytes:
        """What a dead letter may keep of ``raw``: the line with its user id fields
        pseudonymised when it is a JSON object, else only its length."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            safe = True
            for name in _USER_FIELDS:
                if name not in data:
                    continue
                value = data[name]
                if isinstance(value, str | int) and not isinstance(value, bool):
                    data[name] = self.pseudonym(str(value))
                else:
                    safe = False
            if safe:
                return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        kind = "a JSON object" if isinstance(data, dict) else "not a JSON object"
        note = f"<redacted: {len(raw)} bytes, {kind}"
        note += " with a userId that is not a string>" if isinstance(data, dict) else ">"
        return json.dumps(note).encode()

    def redact_payload(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A Snowplow payload for a dead letter: the user ids (``uid``, ``duid``)
        pseudonymised, contexts and self-describing events (``co``, ``cx``, ``ue_pr``,
        ``ue_px``: they may carry user entities, base64 hides them) and any other field
        that contains one of the ids (a URL) replaced by a note.

        >>> p = Pseudonymiser(b"k" * 16)
        >>> out = p.redact_payload({"uid": "ann", "e": "pv", "co": '{"user":"ann"}',
        ...                         "url": "https://shop.example/?u=ann"})
        >>> out["uid"] == p.pseudonym("ann"), out["e"], out["co"], out["url"]
        (True, 'pv', '<redacted: 14 characters>', '<redacted: holds a user id>')
        """
        out = dict(payload)
        raw_ids = []
        for name in ("uid", "duid", "userId"):
            value = out.get(name)
            if isinstance(value, str) and value:
                raw_ids.append(value)
                out[name] = self.pseudonym(value)
        for name, value in out.items():
            if name in _OPAQUE and isinstance(value, str):
                out[name] = f"<redacted: {len(value)} characters>"
            elif name not in ("uid", "duid", "userId") and isinstance(value, str) and any(
                    one in value for one in raw_ids):
                out[name] = "<redacted: holds a user id>"
        return out


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` looks like a pseudonym made by :class:`Pseudonymiser`.

    >>> is_pseudonym("ps_" + "0" * 32), is_pseudonym("alice")
    (True, False)
    """
    if len(value) != len(PREFIX) + _HEX_CHARS or not value.startswith(PREFIX):
        return False
    tail = value[len(PREFIX):]
    return all(c in "0123456789abcdef" for c in tail)


def load_key(path: str | Path | None, environ: Mapping[str, str]) -> bytes | None:
    """The key from ``path`` (its content, surrounding white space stripped) or else
    from ``environ[KEY_ENV]``; ``None`` when neither is given.

    >>> load_key(None, {}) is None
    True
    >>> load_key(None, {KEY_ENV: " k-0123456789abcdef "})
    b'k-0123456789abcdef'
    """
    if path is not None:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            msg = f"--pseudonymise-key-file {str(path)!r} cannot be read: {exc.strerror}"
            raise ConfigError(msg) from None
        if not key:
            msg = f"--pseudonymise-key-file {str(path)!r} is empty"
            raise ConfigError(msg)
        return key
    text = environ.get(KEY_ENV, "").strip()
    return text.encode("utf-8") if text else None


def from_environment(environ: Mapping[str, str] | None = None) -> Pseudonymiser | None:
    """The pseudonymiser of ``SHOPSTREAM_PSEUDONYM_KEY`` (default: ``os.environ``), or
    ``None`` when it is not set.

    >>> from_environment({}) is None
    True
    >>> from_environment({KEY_ENV: "k-0123456789abcdef"})
    Pseudonymiser(<key hidden>)
    """
    key = load_key(None, os.environ if environ is None else environ)
    return None if key is None else Pseudonymiser(key)
