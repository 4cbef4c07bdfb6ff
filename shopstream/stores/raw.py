"""Stored values as the JSON bytes they are kept in, for the API's hot reads.

Both stores keep every value as the JSON ``msgspec`` encoded on write, so a read that
only passes a value on (the API's answers) can skip decoding it and encoding it again:
:func:`raw_many` gives those bytes, spliced into the answer as they are. A store
without ``get_raw_many`` (a test double, a future store) is read with ``get_many`` and
its values encoded, so the bytes are the same either way; a stored JSON ``null`` reads
as no value, as through ``get_many``.

Cost: one store read of ``len(keys)`` keys; no JSON decode or encode with the two
stores of this package.

Examples
--------
>>> from shopstream.stores.embedded import temporary_store
>>> store = temporary_store({"a": {"x": [1, 2.5, "é"]}, "b": None})
>>> raw_many(store, ["a", "b", "nope"])
[b'{"x":[1,2.5,"\\xc3\\xa9"]}', None, None]
>>> raw_one(store, "a") == msgspec.json.encode(store.get("a"))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

from shopstream.stores.base import FeatureStore

__all__ = ["RawReads", "raw_many", "raw_one"]

_encode = msgspec.json.Encoder().encode


@runtime_checkable
class RawReads(Protocol):
    """A store that can hand out its values' JSON bytes."""

    def get_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The JSON bytes under ``keys``, in order, ``None`` for absent or expired ones."""
        ...


def raw_many(store: FeatureStore, keys: Sequence[str]) -> list[bytes | None]:
    """The JSON bytes of the values under ``keys`` (``None`` where there is none)."""
    get_raw_many = getattr(store, "get_raw_many", None)
    if get_raw_many is not None:
        # A stored JSON null reads as no value, as it does through get_many.
        return [None if value is None or value == b"null" else value
                for value in get_raw_many(keys)]
    return [None if value is None else _encode(value) for value in store.get_many(keys)]


def raw_one(store: FeatureStore, key: str) -> bytes | None:
    """The JSON bytes of the value under ``key``, or ``None``."""
    return raw_many(store, (key,))[0]
