"""The jobs' ``recs:user:{id}`` lists on a real Redis store: written by the daily batch and
removed by an erasure of their shopper (and only theirs)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from shopstream.jobs.config import JobsConfig
from shopstream.jobs.recs import recommend_shoppers
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.privacy.erasure import ErasureLog, erase_user
from shopstream.stores.keys import user_recs_key
from shopstream.stores.redis_store import RedisStore

pytestmark = pytest.mark.integration


def test_erasure_removes_the_scheduled_lists_on_redis(redis_url: str, tmp_path: Path) -> None:
    import json

    events = tmp_path / "events.jsonl"
    tag = uuid.uuid4().hex[:8]  # the session's server is shared with other tests
    users = [f"{tag}-u{i}" for i in range(4)] + [f"{tag}-u10"]
    events.write_text("".join(
        json.dumps({"eventType": "VIEW_PRODUCT", "timestamp": 1_790_000_000_000 + i,
                    "sessionId": f"{tag}-s{i}", "userId": users[i % 5],
                    "productId": f"p{i % 7}"}) + "\n" for i in range(40)))
    store = RedisStore(redis_url)
    try:
        jobs = ShopJobs(store, JobsConfig(events=str(events), models=str(tmp_path / "m")))
        model = jobs.retrain(1_790_000_000_100)
        assert model["shoppers"] == 5
        latest = jobs.models.latest()
        assert latest is not None
        recommend_shoppers(store, latest, users, 1_790_000_000_100, "daily", 600.0, 1_000)
        assert all(store.get(user_recs_key(u)) is not None for u in users)
        report = erase_user(users[1], store=store, log=ErasureLog(tmp_path / "e.jsonl"))
        assert report.complete
        assert store.get(user_recs_key(users[1])) is None
        assert store.get(user_recs_key(f"{tag}-u10")) is not None  # u1 is inside u10
        assert store.get(user_recs_key(users[2])) is not None
    finally:
        store.close()
