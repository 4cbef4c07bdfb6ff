"""StoreTap during store outages: order kept, nothing dropped, backpressure, replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shopstream.events.records import Output, ShopperFeatures
from shopstream.stores.base import StoreEntry, StoreError, WriteStats
from shopstream.stores.retry import RetryConfig
from shopstream.stores.tap import StoreTap


class FlakyStore:
    """A dictionary store that fails while ``down`` (and forgets all if ``volatile``
    and ``wipe_on_restart``)."""

    def __init__(self, volatile: bool = False) -> None:
        self.url = "flaky://"
        self.stats = WriteStats()
        self.volatile = volatile
        self.data: dict[str, Any] = {}
        self.down = False
        self.log: list[str] = []

    def write_batch(self, entries: Sequence[StoreEntry]) -> None:
        if self.down:
            msg = "cannot write to the store 'flaky://': connection refused"
            raise StoreError(msg)
        for key, value, _ in entries:
            self.data[key] = value
            self.log.append(key)

    def get(self, key: str) -> Any | None:
        return self.data.get(key)

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        return [self.data.get(k) for k in keys]

    def delete(self, keys: Sequence[str]) -> None:
        for k in keys:
            self.data.pop(k, None)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.on_sleep: Any = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.slept))


def features(user: str, n: int) -> Output:
    return Output("shopper-features", user,
                  ShopperFeatures("user", user, 0, {"orders_count_24hr": n}))


def tap_for(store: FlakyStore, clock: Clock, **retry: Any) -> StoreTap:
    return StoreTap(store, batch_size=1, max_delay_s=0.0, clock=clock,
                    retry=RetryConfig(**retry), sleep=clock.sleep, wall_clock=clock)


def test_outage_holds_values_in_order_then_writes_them() -> None:
    store, clock = FlakyStore(), Clock()
    tap = tap_for(store, clock, initial_backoff_s=1.0, max_backoff_s=4.0)
    store.down = True
    for n in range(5):
        tap.write(features(f"u{n}", n))
        clock.now += 0.1
    assert store.data == {}
    assert tap.waiting == 10  # a feature and its group's value per output
    assert store.stats.errors == 1  # one try, then backing off (no try per write)
    store.down = False
    clock.now += 1.0
    tap.write(features("u5", 5))
    assert [k.split(":")[1] for k in store.log if k.startswith("user:")] == [
        f"u{n}" for n in range(6)]
    assert store.stats.retries == 1 and store.stats.waiting == 0 and tap.written == 12


def test_a_later_value_for_a_key_wins_after_the_outage() -> None:
    store, clock = FlakyStore(), Clock()
    tap = tap_for(store, clock)
    store.down = True
    tap.write(features("u", 1))
    tap.write(features("u", 2))
    store.down = False
    clock.now += 10
    tap.flush()
    assert store.get("user:u:orders_count_24hr") == 2


def test_flush_blocks_with_backoff_until_the_store_answers() -> None:
    store, clock = FlakyStore(), Clock()
    tap = tap_for(store, clock, initial_backoff_s=0.5, max_backoff_s=2.0)
    store.down = True
    tap.write(features("u", 1))

    def come_back(sleeps: int) -> None:
        if sleeps == 4:
            store.down = False

    clock.on_sleep = come_back
    tap.flush()
    assert clock.slept == [0.5, 1.0, 2.0, 2.0]
    assert store.get("user:u:orders_count_24hr") == 1
    assert store.stats.errors == 4 and store.stats.retries == 4


def test_full_buffer_blocks_the_writer_instead_of_dropping() -> None:
    store, clock = FlakyStore(), Clock()
    tap = tap_for(store, clock, max_waiting=5, initial_backoff_s=1.0)
    store.down = True
    tap.write(features("a", 1))
    tap.write(features("b", 1))
    assert clock.slept == []  # below the bound: the pipeline goes on
    clock.on_sleep = lambda n: setattr(store, "down", n < 2)
    tap.write(features("c", 1))  # the bound: blocks until written
    assert len(clock.slept) == 2
    assert sorted(k for k in store.data if k.startswith("user:")) == [
        "user:a:orders_count_24hr", "user:b:orders_count_24hr", "user:c:orders_count_24hr"]


def test_give_up_raises_one_clear_error_and_keeps_the_values() -> None:
    store, clock = FlakyStore(), Clock()
    tap = tap_for(store, clock, give_up_after_s=3.0, initial_backoff_s=1.0)
    store.down = True
    tap.write(features("u", 1))
    with pytest.raises(StoreError, match=r"gave up writing to the store after 3\.0 s"):
        tap.flush()
    assert tap.waiting == 2


def test_volatile_store_is_caught_up_from_the_mirror_after_coming_back_empty() -> None:
    store, clock = FlakyStore(volatile=True), Clock()
    tap = tap_for(store, clock)
    tap.write(features("early", 1))
    tap.write(features("early2", 2))
    store.down = True
    store.data.clear()  # restarted without persistence
    tap.write(features("late", 3))
    store.down = False
    clock.now += 10
    tap.flush()
    assert {k: v for k, v in store.data.items() if k.startswith("user:")} == {
        "user:early:orders_count_24hr": 1, "user:early2:orders_count_24hr": 2,
        "user:late:orders_count_24hr": 3}
    assert store.data["features:user:early2:24hr"]["orders_count_24hr"] == 2
    assert store.stats.replayed == 4


def test_non_volatile_store_keeps_no_mirror() -> None:
    assert tap_for(FlakyStore(), Clock()).mirror is None


@pytest.mark.parametrize("field", ["initial_backoff_s", "max_waiting", "mirror_keys"])
def test_retry_config_is_validated(field: str) -> None:
    with pytest.raises(Exception, match=f"RetryConfig.{field} must be > 0"):
        RetryConfig(**{field: 0})
