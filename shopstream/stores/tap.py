"""A runner :class:`~shopstream.runners.embedded.runner.Tap` that writes features and
recommendations to a store, in batches.

Entries are buffered and written when ``batch_size`` of them are waiting, when
``max_delay_s`` of wall time passed since the last write (so a slow live stream still
reaches the store promptly), on :meth:`flush` and on :meth:`close`.

Examples
--------
>>> import tempfile
>>> from shopstream.events.records import Output, ShopperFeatures
>>> from shopstream.stores.embedded import SqliteStore
>>> store = SqliteStore(tempfile.mkdtemp() + "/f.db")
>>> tap = StoreTap(store)
>>> tap.write(Output("shopper-features", "u1",
...                  ShopperFeatures("user", "u1", 0, {"orders_count_24hr": 3})))
>>> tap.close()
>>> store.get("user:u1:orders_count_24hr")
3
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.records import Output
from shopstream.stores.base import FeatureStore, StoreEntry
from shopstream.stores.keys import TtlConfig, entries_for

__all__ = ["StoreTap"]


class StoreTap:
    """Writes ``shopper-features``, ``product-recommendations``, ``rules-by-antecedent``
    and ``trending-products`` outputs to ``store``.

    The tap does not close the store: whoever opened it does.
    """

    streams = frozenset({streams.SHOPPER_FEATURES, streams.PRODUCT_RECOMMENDATIONS,
                         streams.RULES_BY_ANTECEDENT, streams.TRENDING_PRODUCTS})

    def __init__(self, store: FeatureStore, ttl: TtlConfig | None = None,
                 batch_size: int = 2_000, max_delay_s: float = 0.05,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if batch_size <= 0:
            msg = f"StoreTap.batch_size must be > 0, got {batch_size!r}"
            raise ConfigError(msg)
        if max_delay_s < 0:
            msg = f"StoreTap.max_delay_s must be >= 0, got {max_delay_s!r}"
            raise ConfigError(msg)
        self.store = store
        self.ttl = ttl or TtlConfig()
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._pending: list[StoreEntry] = []
        self._last_flush = clock()
        self.written = 0

    def write(self, out: Output) -> None:
        self._pending.extend(entries_for(out, self.ttl))
        if len(self._pending) >= self.batch_size or (
                self._clock() - self._last_flush >= self.max_delay_s):
            self.flush()

    def flush(self) -> None:
        """Write what is waiting."""
        self._last_flush = self._clock()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self.store.write_batch(pending)
        self.written += len(pending)

    def close(self) -> None:
        self.flush()
