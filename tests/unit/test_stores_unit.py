"""Stores without a server: the SQLite store's expiry, the tap's batching, configs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream.errors import ConfigError
from shopstream.events.records import Output, ShopperFeatures
from shopstream.stores import StoreEntry, StoreError, open_store
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.keys import TtlConfig, entries_for, recs_key, rules_key
from shopstream.stores.redis_store import RedisStore
from shopstream.stores.tap import StoreTap


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_sqlite_values_expire_on_the_store_clock_and_are_purged(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "f.db", clock=clock)
    store.write_batch([StoreEntry("a", 1, 10.0), StoreEntry("b", 2, None)])
    clock.now += 9.9
    assert store.get_many(["a", "b"]) == [1, 2]
    clock.now += 0.2
    assert store.get_many(["a", "b"]) == [None, 2]
    clock.now += 60
    store.write_batch([StoreEntry("c", 3)])   # purges what expired
    rows = store._connection().execute("SELECT key FROM kv ORDER BY key").fetchall()
    assert rows == [("b",), ("c",)]
    store.close()


def test_tap_writes_when_the_batch_fills_or_time_passes(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(tmp_path / "f.db")
    features = ShopperFeatures("user", "u", 0, {"orders_count_24hr": 1,
                                                "product_view_count_5min": 2})
    tap = StoreTap(store, batch_size=7, max_delay_s=1.0, clock=clock)
    tap.write(Output("shopper-features", "u", features))
    assert tap.written == 0                    # 2 features and their 2 groups' values
    tap.write(Output("shopper-features", "u", features))
    assert tap.written == 8                    # 8 entries >= batch of 7
    tap.write(Output("shopper-features", "u", features))
    assert tap.written == 8
    clock.now += 1.5
    tap.write(Output("basket-completions", "u", object()))
    assert tap.written == 12                   # waited long enough
    store.close()


def test_recommendations_are_stored_under_their_session(tmp_path: Path) -> None:
    out = Output("product-recommendations", "s1", {"items": ["p1"]})
    assert entries_for(out, TtlConfig()) == [StoreEntry(recs_key("s1"), {"items": ["p1"]},
                                                        3_600.0)]
    assert rules_key(["b", "a"]) == "rules:antecedent:a|b"


@pytest.mark.parametrize("bad", [0, -1.0, "10"])
def test_ttl_config_rejects_non_positive_values(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"TtlConfig\.long_s must be > 0"):
        TtlConfig(long_s=bad)  # type: ignore[arg-type]


def test_tap_config_is_validated(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "f.db")
    with pytest.raises(ConfigError, match=r"StoreTap\.batch_size must be > 0, got 0"):
        StoreTap(store, batch_size=0)
    store.close()


def test_open_store_picks_the_implementation_from_the_spec(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path / "x.db")), SqliteStore)
    assert isinstance(open_store("redis://127.0.0.1:1/0"), RedisStore)
    with pytest.raises(ConfigError, match="--store must be"):
        open_store(" ")


def test_an_unreachable_redis_is_a_store_error_naming_the_url() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", socket_timeout_s=0.5)
    assert not store.ping()
    with pytest.raises(StoreError, match=r"cannot write to the store 'redis://127.0.0.1:1/0'"):
        store.write_batch([StoreEntry("k", 1)])
    with pytest.raises(StoreError, match="cannot read"):
        store.get("k")
    store.close()


def test_a_store_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the store directory"):
        SqliteStore(blocker / "sub" / "f.db")
