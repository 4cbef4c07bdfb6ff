"""One contract for every FeatureStore: the embedded SQLite store and Redis (a real
``redis-server`` started by ``conftest.py``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopstream.api.store_routes import user_features_answer
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import USER_FEATURES
from shopstream.stores import FeatureStore, StoreEntry, open_store
from shopstream.stores.keys import (
    FEATURE_GROUPS,
    TtlConfig,
    features_key,
    session_key,
    user_feature_scan,
    user_key,
)
from shopstream.stores.tap import StoreTap

Opener = Callable[[], FeatureStore]


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.integration)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    spec = (str(tmp_path / "features.db") if request.param == "embedded"
            else request.getfixturevalue("redis_url"))
    opened: list[FeatureStore] = []

    def open_() -> FeatureStore:
        store = open_store(spec)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def prefix() -> str:
    """Keys unique to one test, as the Redis server is shared by the session."""
    return f"t{uuid.uuid4().hex[:10]}"


def test_written_values_read_back_by_key_and_in_order(opener: Opener, prefix: str) -> None:
    store = opener()
    values = [3, 2.5, "Books", True, ["DE/BE", "FR"], {"a": [1, 2]}]
    store.write_batch([StoreEntry(f"{prefix}:{i}", v, 60.0) for i, v in enumerate(values)])
    assert store.get(f"{prefix}:0") == 3
    keys = [f"{prefix}:{i}" for i in reversed(range(len(values)))]
    assert store.get_many([*keys, f"{prefix}:missing"]) == [*reversed(values), None]
    assert store.get_many([]) == []


def test_the_later_write_of_a_key_wins(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(f"{prefix}:k", 1), StoreEntry(f"{prefix}:k", 2)])
    assert store.get(f"{prefix}:k") == 2
    store.write_batch([StoreEntry(f"{prefix}:k", 3, 60.0)])
    assert store.get(f"{prefix}:k") == 3


def test_values_expire_after_their_ttl(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(f"{prefix}:short", 1, 0.2),
                       StoreEntry(f"{prefix}:forever", 2, None),
                       StoreEntry(f"{prefix}:long", 3, 60.0)])
    assert store.get(f"{prefix}:short") == 1
    time.sleep(0.35)
    assert store.get_many([f"{prefix}:short", f"{prefix}:forever", f"{prefix}:long"]) == [
        None, 2, 3]


def test_a_large_batch_is_written_whole(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(f"{prefix}:{i}", i, 60.0) for i in range(5_000)])
    assert store.get_many([f"{prefix}:{i}" for i in range(0, 5_000, 7)]) == list(
        range(0, 5_000, 7))
    assert store.stats.keys == 5_000 and store.stats.batches == 1


def test_delete_and_ping(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(f"{prefix}:a", 1), StoreEntry(f"{prefix}:b", 2)])
    store.delete([f"{prefix}:a", f"{prefix}:never"])
    assert store.get_many([f"{prefix}:a", f"{prefix}:b"]) == [None, 2]
    assert store.ping()


def test_data_survives_closing_and_reopening(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(f"{prefix}:kept", {"x": 1}, 60.0)])
    store.close()
    assert opener().get(f"{prefix}:kept") == {"x": 1}


def test_the_tap_writes_features_under_the_reference_layout(opener: Opener,
                                                            prefix: str) -> None:
    store = opener()
    tap = StoreTap(store, TtlConfig(short_s=0.2), batch_size=10_000, max_delay_s=60)
    user, session = f"{prefix}-u", f"{prefix}-s"
    tap.write(Output("shopper-features", user, ShopperFeatures(
        "user", user, 0, {"product_view_count_5min": 4, "orders_count_24hr": 1})))
    tap.write(Output("shopper-features", session, ShopperFeatures(
        "session", session, 0, {"session_bounce": False})))
    tap.write(Output("basket-completions", session, object()))   # not the tap's stream
    assert store.get(user_key(user, "orders_count_24hr")) is None   # still buffered
    tap.flush()
    assert store.get_many([f"user:{user}:product_view_count_5min",
                           f"user:{user}:orders_count_24hr",
                           session_key(session, "session_bounce")]) == [4, 1, False]
    time.sleep(0.35)
    assert store.get_many([user_key(user, "product_view_count_5min"),
                           user_key(user, "orders_count_24hr")]) == [None, 1]


def test_many_keys_of_one_entity_read_back_exactly(opener: Opener, prefix: str) -> None:
    store = opener()
    names = [f"f{i}" for i in range(6)]
    store.write_batch([StoreEntry(f"user:{prefix}:{n}", i, 60.0) for i, n in enumerate(names)]
                      + [StoreEntry(f"user:{prefix}:other", "not asked", 60.0),
                         StoreEntry(f"user:{prefix}0:f1", "another user", 60.0),
                         StoreEntry(f"user:{prefix}:gone", 1, 0.1)])
    time.sleep(0.2)
    asked = [f"user:{prefix}:{n}" for n in [*reversed(names), "missing", "gone"]]
    assert store.get_many(asked) == [5, 4, 3, 2, 1, 0, None, None]


def test_the_tap_writes_each_feature_group_as_one_value(opener: Opener, prefix: str) -> None:
    store = opener()
    tap = StoreTap(store, TtlConfig(short_s=0.2), batch_size=10_000, max_delay_s=60)
    user = f"{prefix}-u"
    rolling = {name: i for i, (_, names) in enumerate(FEATURE_GROUPS["user"][:2])
               for name in names}
    tap.write(Output("shopper-features", user, ShopperFeatures("user", user, 0, rolling)))
    tap.write(Output("shopper-features", user, ShopperFeatures(
        "user", user, 0, {"orders_count_24hr": 2, "top_category_24hr": "Books"})))
    tap.flush()
    assert store.get(features_key("user", user, "5min")) == {
        "product_view_count_5min": 0, "category_view_count_5min": 0,
        "cart_add_count_5min": 0, "cart_remove_count_5min": 0, "cart_value_5min": 0,
        "avg_viewed_price_5min": 0, "price_range_viewed_5min": 0}
    assert store.get(features_key("user", user, "24hr")) == {
        "orders_count_24hr": 2, "order_value_24hr": None, "avg_order_value_24hr": None,
        "top_category_24hr": "Books", "unique_categories_24hr": None}
    assert store.get(features_key("user", user, "context")) is None
    status, body = user_features_answer(store, user)
    features = json.loads(body)["features"]
    assert status == 200 and list(features) == list(USER_FEATURES)
    assert features == {name: store.get(user_key(user, name)) for name in USER_FEATURES}
    time.sleep(0.35)  # the 5min group expires with its features
    assert store.get(features_key("user", user, "5min")) is None
    assert json.loads(user_features_answer(store, user)[1])["features"][
        "cart_value_5min"] is None


def test_a_shopper_with_some_groups_stored_reads_the_others_feature_by_feature(
        opener: Opener, prefix: str) -> None:
    # A store written before the groups existed, then one group written since: the other
    # groups' features still come from their per-feature keys, not as null.
    store = opener()
    user = f"{prefix}-mixed"
    store.write_batch([StoreEntry(user_key(user, "latest_platform"), "ios", 60.0),
                       StoreEntry(user_key(user, "orders_count_24hr"), 3, 60.0)])
    tap = StoreTap(store, TtlConfig(), batch_size=10_000, max_delay_s=60)
    tap.write(Output("shopper-features", user, ShopperFeatures(
        "user", user, 0, {"cart_value_5min": 7.5})))
    tap.flush()
    status, body = user_features_answer(store, user)
    features = json.loads(body)["features"]
    assert status == 200 and list(features) == list(USER_FEATURES)
    assert features["latest_platform"] == "ios" and features["orders_count_24hr"] == 3
    assert features["cart_value_5min"] == 7.5
    assert features == {name: store.get(user_key(user, name)) for name in USER_FEATURES}


def test_scan_keys_lists_the_live_keys_of_a_kind(opener: Opener, prefix: str) -> None:
    store = opener()
    store.write_batch([StoreEntry(user_key(f"{prefix}b", "x"), 1, 60.0),
                       StoreEntry(user_key(f"{prefix}a", "x"), 2, 60.0),
                       StoreEntry(user_key(f"{prefix}a", "y"), 3, 60.0),
                       StoreEntry(user_key(f"{prefix}[*]", "x"), 4, 60.0),
                       StoreEntry(user_key(f"{prefix}gone", "x"), 5, 0.1),
                       StoreEntry(f"user:{prefix}x", 6, 60.0),
                       StoreEntry(f"session:{prefix}a:x", 7, 60.0)])
    time.sleep(0.2)
    scan_prefix, suffix = user_feature_scan("x")
    assert store.scan_keys(scan_prefix + prefix, suffix) == [
        user_key(f"{prefix}[*]", "x"), user_key(f"{prefix}a", "x"), user_key(f"{prefix}b", "x")]
    assert store.scan_keys(user_key(f"{prefix}[*]", "")) == [user_key(f"{prefix}[*]", "x")]
    assert store.scan_keys(user_key(f"{prefix}a", "")) == [user_key(f"{prefix}a", "x"),
                                                           user_key(f"{prefix}a", "y")]
