"""Raw reads on a real Redis server: the same bytes as encoding what ``get_many``
decodes, expired and absent keys ``None``, and the hot answers spliced from them."""

from __future__ import annotations

import time

import msgspec
import pytest

from shopstream.api.hot_reads import HotReads
from shopstream.stores.base import StoreEntry
from shopstream.stores.raw import raw_many
from shopstream.stores.redis_store import RedisStore

pytestmark = pytest.mark.integration


def test_redis_raw_reads_match_decoded_values(redis_url: str) -> None:
    store = RedisStore(redis_url)
    values = {"raw:a": {"x": [1, 2.5, "é", None]}, "raw:b": "text", "raw:c": 0.1,
              "raw:gone": 1}
    store.write_batch([StoreEntry(k, v, 0.05 if k == "raw:gone" else None)
                       for k, v in values.items()])
    time.sleep(0.1)
    keys = [*values, "raw:absent"]
    raw = raw_many(store, keys)
    assert raw == [None if v is None else msgspec.json.encode(v)
                   for v in store.get_many(keys)]
    assert raw[-2:] == [None, None] and raw[0] == msgspec.json.encode(values["raw:a"])
    store.write_batch([StoreEntry("recs:session:rs1", [{"productId": "p1"}]),
                       StoreEntry("user:ru1:orders_count_24hr", 3)])
    reads = HotReads(store)
    assert reads.answer("/sessions/rs1/recommendations") == (
        200, b'{"sessionId":"rs1","recommendations":[{"productId":"p1"}]}')
    status, body = reads.answer("/users/ru1/features") or (0, b"")
    assert status == 200 and msgspec.json.decode(body)["features"]["orders_count_24hr"] == 3
    store.delete([*keys, "recs:session:rs1", "user:ru1:orders_count_24hr"])
    store.close()
