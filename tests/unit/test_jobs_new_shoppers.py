"""The daily batch serves shoppers seen since the last retrain (store activity keys and the
lake), bounded, most recent first, beside the shoppers the model knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from shopstream.events import EventType, ShopperEvent
from shopstream.jobs.config import BatchRecsConfig, JobsConfig
from shopstream.jobs.new_shoppers import shoppers_since
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.keys import user_recs_key

DAY_MS = 86_400_000
T0 = 1_790_000_000_000  # 2026-09-21
PRODUCTS = [f"p{i}" for i in range(10)]
KNOWN = [f"k{i}" for i in range(10)]


def _view(ts: int, user: str, product: str) -> ShopperEvent:
    return ShopperEvent(EventType.VIEW_PRODUCT, ts, f"{user}-s", user_id=user,
                        product_id=product)


@pytest.fixture
def world(tmp_path: Path) -> Any:
    """A model trained on the known shoppers (from an event file), a lake holding what
    came after, and a store with live activity; returns (store, events file, lake,
    end of the training history)."""
    from shopstream.lake.sink import LakeSink

    history = [_view(T0 + i * 60_000, KNOWN[i % 10], PRODUCTS[(i * 3) % 10])
               for i in range(60)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in history))
    end = history[-1].timestamp_ms
    lake = tmp_path / "lake"
    sink = LakeSink(lake)
    sink.start(None, resume=False, checkpoint_dir=None)
    for event in [*history,  # what the model already learnt from: nobody new
                  _view(end + 1_000, "lake-a", "p1"), _view(end + 2_000, "k1", "p2"),
                  _view(end + 3_000, "lake-a", "p4"), _view(end + 5_000, "lake-b", "p5")]:
        sink.write_event(event)
    sink.close()
    store = SqliteStore(tmp_path / "features.db")
    store.write_batch([StoreEntry("user:store-1h:cart_add_count_1hr", 1),
                       StoreEntry("user:store-5m:product_view_count_5min", 2),
                       StoreEntry("user:k2:product_view_count_5min", 4),
                       StoreEntry("user:idle:product_view_count_1hr", 0)])
    # the model: trained from the event file alone (the lake is read by the batch only)
    ShopJobs(store, JobsConfig(events=str(events))).retrain(end + DAY_MS)
    yield store, events, lake, end
    store.close()


def test_daily_batch_covers_shoppers_seen_since_the_retrain(world: Any) -> None:
    store, events, lake, end = world
    jobs = ShopJobs(store, JobsConfig(events=str(events), lake=str(lake)))
    counts = jobs.daily(end + 30 * DAY_MS)
    assert counts["known"] == 10 and counts["new"] == 4
    assert counts["shoppers"] == 14 and counts["trained_first"] == 0
    assert counts["new_from_store"] == 2 and counts["new_from_lake"] == 2
    assert counts["with_recent"] == 2  # lake-a and lake-b: what they touched is context
    for user in [*KNOWN, "store-5m", "store-1h", "lake-a", "lake-b"]:
        recs = store.get(user_recs_key(user))
        assert recs is not None and recs["job"] == "daily", user
    lake_a = store.get(user_recs_key("lake-a"))["products"]
    assert lake_a and not {"p1", "p4"} & set(lake_a)  # its own products not sent back
    assert store.get(user_recs_key("idle")) is None


def test_new_shoppers_most_recent_first_and_bounded(world: Any) -> None:
    store, _events, lake, end = world
    now = end + 30 * DAY_MS
    found = shoppers_since(store, str(lake), set(KNOWN), end + 1, now, limit=10)
    assert found.users == ["store-5m", "store-1h", "lake-b", "lake-a"]
    assert shoppers_since(store, str(lake), set(KNOWN), end + 1, now, limit=3).users == [
        "store-5m", "store-1h", "lake-b"]
    # the lake's part is bounded too: only the newest `limit` of it are read back
    assert shoppers_since(store, str(lake), set(KNOWN), end + 1, now, 1).from_lake == 1
    # a shopper in both: dated by the more recent sighting (here the store's)
    store.write_batch([StoreEntry("user:lake-a:product_view_count_5min", 1)])
    assert shoppers_since(store, str(lake), set(KNOWN), end + 1, now, 10).users[:2] == [
        "lake-a", "store-5m"]
    # before the retrain's end nobody in the lake is new
    store.delete(["user:lake-a:product_view_count_5min"])
    assert shoppers_since(store, str(lake), set(KNOWN), end + 10_000, now, 10).users == [
        "store-5m", "store-1h"]


def test_the_batch_bound_leaves_the_oldest_new_shoppers_out(world: Any) -> None:
    store, events, lake, end = world
    config = JobsConfig(events=str(events), lake=str(lake),
                        batch=BatchRecsConfig(max_new_shoppers=2))
    counts = ShopJobs(store, config).daily(end + 30 * DAY_MS)
    assert counts["new"] == 2 and counts["shoppers"] == 12
    assert store.get(user_recs_key("store-1h")) is not None
    assert store.get(user_recs_key("lake-a")) is None
    assert store.get(user_recs_key("lake-b")) is None


def test_max_new_shoppers_is_validated() -> None:
    from shopstream.errors import ConfigError

    with pytest.raises(ConfigError, match="max_new_shoppers"):
        BatchRecsConfig(max_new_shoppers=0)
