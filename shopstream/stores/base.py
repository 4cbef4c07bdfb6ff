"""The ``FeatureStore`` protocol every store implements, and what they share.

A store keeps JSON values under string keys, each with an optional time to live
(seconds of wall-clock time). Writes come in batches (a pipeline run writes thousands of
feature values per second); reads are by key, one or many at a time (the API answers a
shopper's features with one read). Keys follow :mod:`shopstream.stores.keys`.

Examples
--------
>>> stats = WriteStats()
>>> stats.observe(0.0004, 10); stats.observe(0.003, 5)
>>> stats.batches, stats.keys, [count for _, count in stats.buckets()][:4]
(2, 15, [0, 0, 1, 1])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

# require and MissingDependencyError live in shopstream.errors, StoreError in
# shopstream.stores.errors; importable from here too.
from shopstream.errors import MissingDependencyError, require
from shopstream.stores.errors import StoreError

__all__ = ["FeatureStore", "JsonReads", "MissingDependencyError", "StoreEntry", "StoreError",
           "WriteStats", "require"]


class StoreEntry(NamedTuple):
    """One value to write: ``ttl_s`` seconds to live, ``None`` for no expiry."""

    key: str
    value: Any
    ttl_s: float | None = None


#: Upper bounds (seconds) of the write-latency histogram buckets, Prometheus style.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 1.0)


class WriteStats:
    """Batch write latencies of one store, for ``/metrics`` (a cumulative histogram),
    and how its writers fared: ``errors`` (failed batch writes), ``retries`` (writes tried
    again after a failure), ``waiting`` (values held for the store during an outage) and
    ``replayed`` (values written again after an outage, see :mod:`shopstream.stores.retry`).
    """

    def __init__(self) -> None:
        self.batches = 0
        self.keys = 0
        self.seconds = 0.0
        self.errors = 0
        self.retries = 0
        self.waiting = 0
        self.replayed = 0
        self._counts = [0] * (len(LATENCY_BUCKETS) + 1)

    def observe(self, seconds: float, keys: int) -> None:
        """Count one batch of ``keys`` keys written in ``seconds``."""
        self.batches += 1
        self.keys += keys
        self.seconds += seconds
        self._counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def buckets(self) -> list[tuple[float, int]]:
        """``(upper bound, batches at or under it)`` pairs, the last bound infinite."""
        total = 0
        out = []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self._counts, strict=True):
            total += count
            out.append((bound, total))
        return out


@runtime_checkable
class FeatureStore(Protocol):
    """Where features and recommendations live between the pipeline and the API.

    ``url`` names the store (a path or ``redis://HOST:PORT``); ``stats`` counts writes.
    """

    url: str
    stats: WriteStats

    def write_batch(self, entries: Sequence[StoreEntry]) -> None:
        """Write every entry (a later entry for the same key wins)."""
        ...

    def get(self, key: str) -> Any | None:
        """The value under ``key``, or ``None`` when absent or expired."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        """The values under ``keys``, in order, ``None`` for absent or expired ones."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Remove ``keys`` (absent ones are ignored)."""
        ...

    def scan_keys(self, prefix: str, suffix: str = "") -> list[str]:
        """Every live key that starts with ``prefix`` and ends with ``suffix`` (the two
        not overlapping), sorted; for jobs that visit all keys of a kind (build the
        prefix and suffix with :mod:`shopstream.stores.keys`)."""
        ...

    def ping(self) -> bool:
        """Whether the store answers."""
        ...

    def close(self) -> None:
        """Release connections and files; the data stays."""
        ...


class JsonReads(ABC):
    """``get`` and ``get_many`` for a store that keeps every value as JSON bytes.

    Both stores of this package implement ``get_raw_many`` (the stored bytes, ``None``
    for absent or expired keys, see :mod:`shopstream.stores.raw`) and set ``_decode``
    (a ``msgspec`` JSON decoder); the decoded reads are the same for both. Cost: one
    ``get_raw_many`` call and one decode per value found.
    """

    _decode: Callable[[bytes], Any]

    @abstractmethod
    def get_raw_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored JSON bytes under ``keys``, in order, ``None`` for absent ones."""

    def get(self, key: str) -> Any | None:
        """The value under ``key``, or ``None`` when absent or expired."""
        return self.get_many((key,))[0]

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        """The values under ``keys``, in order, ``None`` for absent or expired ones."""
        decode = self._decode
        return [None if value is None else decode(value) for value in self.get_raw_many(keys)]
