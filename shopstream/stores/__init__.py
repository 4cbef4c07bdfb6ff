"""Feature stores: the ``FeatureStore`` protocol, an embedded SQLite store and Redis."""

from __future__ import annotations

from shopstream.stores.base import (
    FeatureStore,
    MissingDependencyError,
    StoreEntry,
    StoreError,
    WriteStats,
)
from shopstream.stores.open import open_store

__all__ = ["FeatureStore", "MissingDependencyError", "StoreEntry", "StoreError", "WriteStats",
           "open_store"]
