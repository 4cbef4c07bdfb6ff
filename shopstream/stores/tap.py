"""A runner :class:`~shopstream.runners.embedded.runner.Tap` that writes features and
recommendations to a store, in batches.

Entries are buffered and written when ``batch_size`` of them are waiting, when
``max_delay_s`` of wall time passed since the last write (so a slow live stream still
reaches the store promptly), on :meth:`flush` and on :meth:`close`. A caller whose input
may fall silent asks :meth:`due_in` how long it may wait and calls :meth:`flush_due`
then, so that no value waits much longer than ``max_delay_s`` (``serve`` does: one
commit per ``max_delay_s`` at most, instead of one per request).

A store that fails is retried with backoff (:mod:`shopstream.stores.retry`): the values
wait in order while the pipeline goes on, up to ``RetryConfig.max_waiting`` of them; past
that, and in :meth:`flush` (which the runner calls before each checkpoint), the tap
blocks until the store takes them, so no value is dropped and no checkpoint covers a
value the store does not hold. After an outage of a ``volatile`` store (Redis, which may
come back empty) every key written so far is written again from the tap's mirror.

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

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.records import Output
from shopstream.stores.base import FeatureStore, StoreEntry, StoreError
from shopstream.stores.keys import TtlConfig, entries_for
from shopstream.stores.open import redact_url
from shopstream.stores.retry import Backoff, RetryConfig, StoreMirror

if TYPE_CHECKING:
    from shopstream.privacy.retention import RetentionConfig

__all__ = ["StoreTap"]

_LOG = logging.getLogger("shopstream.stores")


class StoreTap:
    """Writes ``shopper-features``, ``product-recommendations``, ``rules-by-antecedent``
    and ``trending-products`` outputs to ``store``.

    The tap does not close the store: whoever opened it does. ``clock`` (monotonic
    seconds) and ``sleep`` are injectable for tests; ``wall_clock`` dates the mirror's
    time-to-live bookkeeping. ``retention`` (``run``/``serve --retention-config``) caps
    every time to live of ``ttl`` at its ``store_days``
    (:meth:`~shopstream.privacy.retention.RetentionConfig.cap_ttls`); the aggregate
    entries written without one (rules, related products, trending, segment counts,
    trends: they name no shopper and are re-sent only when they change) stay uncapped.
    """

    streams = frozenset({streams.SHOPPER_FEATURES, streams.PRODUCT_RECOMMENDATIONS,
                         streams.RULES_BY_ANTECEDENT, streams.TRENDING_PRODUCTS,
                         streams.PROFILES, streams.SEGMENT_COUNTS,
                         streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS})

    def __init__(self, store: FeatureStore, ttl: TtlConfig | None = None,
                 batch_size: int = 2_000, max_delay_s: float = 0.05,
                 clock: Callable[[], float] = time.monotonic,
                 retry: RetryConfig | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], float] = time.time,
                 retention: RetentionConfig | None = None) -> None:
        if batch_size <= 0:
            msg = f"StoreTap.batch_size must be > 0, got {batch_size!r}"
            raise ConfigError(msg)
        if max_delay_s < 0:
            msg = f"StoreTap.max_delay_s must be >= 0, got {max_delay_s!r}"
            raise ConfigError(msg)
        self.store = store
        self.ttl = ttl or TtlConfig()
        if retention is not None:
            self.ttl = retention.cap_ttls(self.ttl)
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._pending: list[StoreEntry] = []
        self._last_flush = clock()
        self.written = 0
        self.retry = retry or RetryConfig()
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._backoff = Backoff(self.retry)
        self._retry_at = 0.0          # no write before this (monotonic s): backing off
        self._outage_since: float | None = None
        self._replay = False          # rewrite the mirror before anything else
        self.mirror = (StoreMirror(self.retry.mirror_keys)
                       if getattr(store, "volatile", False) else None)
        self.last_error = ""

    def write(self, out: Output) -> None:
        self._pending.extend(entries_for(out, self.ttl))
        if len(self._pending) >= self.batch_size or (
                self._clock() - self._last_flush >= self.max_delay_s):
            self._deliver(block=len(self._pending) >= self.retry.max_waiting)

    def flush(self) -> None:
        """Write what is waiting; during an outage, retry until the store takes it."""
        self._deliver(block=True)

    def due_in(self) -> float | None:
        """Seconds until the values waiting are due (0 when they are), or ``None`` when
        none wait.

        Examples
        --------
        >>> from shopstream.events.records import Output, ShopperFeatures
        >>> from shopstream.stores.embedded import temporary_store
        >>> now = [0.0]
        >>> store = temporary_store()
        >>> tap = StoreTap(store, max_delay_s=0.05, clock=lambda: now[0])
        >>> tap.due_in() is None
        True
        >>> tap.write(Output("shopper-features", "u1",
        ...                  ShopperFeatures("user", "u1", 0, {"orders_count_24hr": 3})))
        >>> now[0] = 0.02
        >>> round(tap.due_in(), 3), store.get("user:u1:orders_count_24hr")
        (0.03, None)
        >>> tap.flush_due(); tap.waiting  # the feature and its update time
        2
        >>> now[0] = 0.05
        >>> tap.flush_due(); tap.waiting, store.get("user:u1:orders_count_24hr")
        (0, 3)
        """
        if not self._pending:
            return None
        return max(0.0, self._last_flush + self.max_delay_s - self._clock())

    def flush_due(self) -> None:
        """Write what is waiting if ``max_delay_s`` passed since the last write; during
        an outage only when its backoff allows (it blocks, as :meth:`write` does, only
        once ``RetryConfig.max_waiting`` values wait)."""
        if self.due_in() == 0:
            self._deliver(block=len(self._pending) >= self.retry.max_waiting)

    def _deliver(self, block: bool) -> None:
        self._last_flush = self._clock()
        stats = self.store.stats
        while self._pending or self._replay:
            now = self._clock()
            if now < self._retry_at:
                if not block:
                    return
                self._sleep(self._retry_at - now)
                now = self._clock()
            if self._outage_since is not None:
                stats.retries += 1
            try:
                if self._replay and self.mirror is not None:
                    again = self.mirror.entries(self._wall_clock())
                    self.store.write_batch(again)
                    stats.replayed += len(again)
                self._replay = False
                if self._pending:
                    self.store.write_batch(self._pending)
            except StoreError as exc:
                self._failed(exc, now)
                continue
            self._recovered()
            pending, self._pending = self._pending, []
            if self.mirror is not None:
                self.mirror.record(pending, self._wall_clock())
            self.written += len(pending)
        stats.waiting = 0

    def _failed(self, exc: StoreError, now: float) -> None:
        """Count the failure, hold the values, and wait before the next try."""
        stats = self.store.stats
        stats.errors += 1
        stats.waiting = len(self._pending)
        self.last_error = redact_url(str(exc))
        if self._outage_since is None:
            self._outage_since = now
            _LOG.warning("store write failed, retrying with backoff (%d values wait): %s",
                         len(self._pending), self.last_error)
        # The store may have lost what it held (a Redis restarted without persistence).
        self._replay = self.mirror is not None
        limit = self.retry.give_up_after_s
        if limit is not None and now - self._outage_since >= limit:
            msg = (f"gave up writing to the store after {now - self._outage_since:.1f} s "
                   f"of failures ({len(self._pending)} values wait): {self.last_error}")
            raise StoreError(msg)
        self._retry_at = now + self._backoff.next()

    def _recovered(self) -> None:
        if self._outage_since is not None:
            _LOG.warning("store answers again after %.1f s; %d values written",
                         self._clock() - self._outage_since, len(self._pending))
        self._outage_since = None
        self._retry_at = 0.0
        self._backoff.reset()

    @property
    def waiting(self) -> int:
        """Values not yet in the store (buffered or held during an outage)."""
        return len(self._pending)

    def close(self) -> None:
        self.flush()
