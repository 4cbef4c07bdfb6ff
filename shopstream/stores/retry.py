"""How store writes outlive a store outage: exponential backoff, and a mirror that
catches up a store which came back empty.

:class:`~shopstream.stores.tap.StoreTap` keeps the values the store refused, in order,
and tries them again after a delay that doubles from ``initial_backoff_s`` up to
``max_backoff_s`` (:class:`Backoff`). Up to ``max_waiting`` values wait without holding
the pipeline up; beyond, and at every checkpoint, the tap blocks until the store takes
them (backpressure: nothing is dropped). A Redis server restarted without persistence
comes back empty, so a store that can forget (``volatile``) also gets a
:class:`StoreMirror`: the last value of every key written, rewritten once the store
answers again.

Examples
--------
>>> backoff = Backoff(RetryConfig(initial_backoff_s=0.1, max_backoff_s=0.5))
>>> [backoff.next() for _ in range(5)]
[0.1, 0.2, 0.4, 0.5, 0.5]
>>> backoff.reset(); backoff.next()
0.1
>>> RetryConfig(max_waiting=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RetryConfig.max_waiting must be > 0, got 0
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from shopstream.errors import ConfigError
from shopstream.stores.base import StoreEntry

__all__ = ["Backoff", "RetryConfig", "StoreMirror"]


@dataclass(frozen=True)
class RetryConfig:
    """How a writer retries a store that fails.

    Parameters
    ----------
    initial_backoff_s, max_backoff_s
        First delay before a retry, doubled after each failure up to the maximum.
    max_waiting
        Values held in memory for the store during an outage before the pipeline blocks
        (each is one key and its value: the bound of the retry buffer).
    give_up_after_s
        Raise :class:`~shopstream.stores.errors.StoreError` after this long an outage;
        ``None`` (the default) retries for as long as it takes. The values stay held.
    mirror_keys
        Keys the mirror of a volatile store (Redis) remembers, at most; the least
        recently written are forgotten first (and not rewritten after a restart).
    """

    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    max_waiting: int = 200_000
    give_up_after_s: float | None = None
    mirror_keys: int = 2_000_000

    def __post_init__(self) -> None:
        for name in ("initial_backoff_s", "max_backoff_s", "max_waiting", "mirror_keys"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"RetryConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)
        if self.max_backoff_s < self.initial_backoff_s:
            msg = (f"RetryConfig.max_backoff_s must be >= initial_backoff_s "
                   f"({self.initial_backoff_s!r}), got {self.max_backoff_s!r}")
            raise ConfigError(msg)
        if self.give_up_after_s is not None and self.give_up_after_s <= 0:
            msg = f"RetryConfig.give_up_after_s must be > 0 or None, got {self.give_up_after_s!r}"
            raise ConfigError(msg)


class Backoff:
    """Delays between retries: doubling from the first to the maximum."""

    def __init__(self, config: RetryConfig) -> None:
        self.config = config
        self._delay = config.initial_backoff_s

    def next(self) -> float:
        """The delay before the next retry (and double the one after)."""
        delay = self._delay
        self._delay = min(delay * 2, self.config.max_backoff_s)
        return delay

    def reset(self) -> None:
        """The store answered: the next failure starts from the first delay again."""
        self._delay = self.config.initial_backoff_s


class StoreMirror:
    """The last value written under each key, with when it expires (wall-clock seconds).

    Bounded by ``max_keys``: the least recently written key is forgotten first, and
    expired values are dropped by a sweep every ``max(100_000, len)`` recorded values
    (amortised constant work per value). Memory is one dictionary entry per key; the
    values are the objects already written.

    Examples
    --------
    >>> mirror = StoreMirror(max_keys=2)
    >>> mirror.record([StoreEntry("a", 1), StoreEntry("b", 2, 10.0)], now_s=100.0)
    >>> mirror.record([StoreEntry("a", 3), StoreEntry("c", 4)], now_s=101.0)
    >>> sorted(mirror.entries(now_s=105.0))  # "b" was forgotten (cap 2)
    [StoreEntry(key='a', value=3, ttl_s=None), StoreEntry(key='c', value=4, ttl_s=None)]
    >>> mirror = StoreMirror(max_keys=5)
    >>> mirror.record([StoreEntry("b", 2, 10.0)], now_s=100.0)
    >>> mirror.entries(now_s=104.0), mirror.entries(now_s=111.0)
    ([StoreEntry(key='b', value=2, ttl_s=6.0)], [])
    >>> mirror = StoreMirror(max_keys=200_000)
    >>> mirror.record([StoreEntry("b", 2, 10.0)], now_s=100.0)
    >>> mirror.record([StoreEntry(f"k{i}", i) for i in range(100_000)], now_s=120.0)
    >>> len(mirror)  # the sweep dropped "b", expired at 110
    100000
    """

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._values: OrderedDict[str, tuple[object, float | None]] = OrderedDict()
        self._since_sweep = 0

    def __len__(self) -> int:
        return len(self._values)

    def record(self, entries: Iterable[StoreEntry], now_s: float) -> None:
        """Remember ``entries`` as written at ``now_s`` (a later one for a key wins)."""
        values = self._values
        move = values.move_to_end
        count = 0
        for key, value, ttl in entries:
            count += 1
            if key in values:
                move(key)  # the dict keeps write order: the oldest is forgotten first
            values[key] = (value, None if ttl is None else now_s + ttl)
        while len(values) > self.max_keys:
            values.popitem(last=False)
        self._since_sweep += count
        if self._since_sweep >= max(100_000, len(values)):
            self._since_sweep = 0
            for key in [k for k, (_, expires) in values.items()
                        if expires is not None and expires <= now_s]:
                del values[key]

    def forget(self, keys: Iterable[str]) -> int:
        """Drop ``keys`` (an erased shopper's: a restarted store must not get them back);
        return how many were remembered.

        >>> mirror = StoreMirror(max_keys=5)
        >>> mirror.record([StoreEntry("a", 1), StoreEntry("b", 2)], now_s=0.0)
        >>> mirror.forget(["a", "zz"]), len(mirror)
        (1, 1)
        """
        values = self._values
        return sum(values.pop(key, None) is not None for key in keys)

    def entries(self, now_s: float) -> list[StoreEntry]:
        """Every remembered value still alive at ``now_s``, with the time it has left."""
        out = []
        for key, (value, expires) in self._values.items():
            if expires is None:
                out.append(StoreEntry(key, value))
            elif expires > now_s:
                out.append(StoreEntry(key, value, round(expires - now_s, 3)))
        return out
