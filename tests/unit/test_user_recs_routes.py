"""``GET /users/{id}/recommendations``: the daily job's lists served from the store, behind
the read-key rules of the other reads, and gone after ``DELETE /users/{id}``. Against
uvicorn on a free port of 127.0.0.1 over an embedded SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.jobs.config import JobsConfig
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.privacy.erasure import ERASURE_LOG_ENV, ErasureLog, erase_user
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.keys import user_recs_key

KEY = "read-key-0123456789abcdef"
T0 = 1_790_000_000_000


def _events(path: Path) -> None:
    lines = [{"eventType": "VIEW_PRODUCT", "timestamp": T0 + i, "sessionId": f"s{i // 2}",
              "userId": f"u{i // 4}", "productId": f"p{i % 7}"} for i in range(40)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _daily(db: Path, tmp_path: Path) -> None:
    _events(tmp_path / "events.jsonl")
    store = SqliteStore(db)
    try:
        counts = ShopJobs(store, JobsConfig(events=str(tmp_path / "events.jsonl"))).daily(T0)
        assert counts["shoppers"] == 10
    finally:
        store.close()


def test_the_key_is_built_in_stores_keys() -> None:
    from shopstream.jobs import recs

    assert user_recs_key("u7") == "recs:user:u7"
    assert recs.user_recs_key is user_recs_key


def test_served_with_read_keys_and_erased_with_the_shopper(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ERASURE_LOG_ENV, str(tmp_path / "erasures.jsonl"))
    db = tmp_path / "features.db"
    _daily(db, tmp_path)
    server = BackgroundServer(ServeConfig(store=str(db), port=0, api_keys=(KEY,),
                                          read_keys=True, workers=1))
    server.start()
    keyed = {"X-API-Key": KEY}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            refused = http.get("/users/u1/recommendations")
            assert refused.status_code == 401
            # the same rule as the other reads
            assert http.get("/users/u1/features").status_code == 401
            answer = http.get("/users/u1/recommendations", headers=keyed)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["userId"] == "u1" and body["job"] == "daily"
            assert body["products"] and len(body["scores"]) == len(body["products"])
            assert body["modelVersion"] == 1 and body["generatedAtMs"] == T0
            missing = http.get("/users/nobody/recommendations", headers=keyed)
            assert missing.status_code == 404 and "recs:user:nobody" in missing.json()["detail"]
            assert "/users/{user_id}/recommendations" in http.get(
                "/openapi.json", headers=keyed).json()["paths"]
            erased = http.delete("/users/u1", headers=keyed)
            assert erased.status_code == 200, erased.text
            assert http.get("/users/u1/recommendations", headers=keyed).status_code == 404
            assert http.get("/users/u2/recommendations", headers=keyed).status_code == 200
    finally:
        server.stop()


def test_open_server_serves_it_without_a_key(tmp_path: Path) -> None:
    db = tmp_path / "features.db"
    store = SqliteStore(db)
    store.write_batch([StoreEntry(user_recs_key("u1"), {"userId": "u1", "products": ["a"]})])
    store.close()
    server = BackgroundServer(ServeConfig(store=str(db), port=0))
    server.start()
    try:
        answer = httpx.get(server.url + "/users/u1/recommendations", timeout=30)
        assert answer.status_code == 200 and answer.json()["products"] == ["a"]
    finally:
        server.stop()


def test_erase_user_removes_the_scheduled_lists_of_the_shopper_only(tmp_path: Path) -> None:
    db = tmp_path / "features.db"
    _daily(db, tmp_path)
    store = SqliteStore(db)
    try:
        # u1 and u10 (an id that contains u1) both have lists
        store.write_batch([StoreEntry(user_recs_key("u10"), {"userId": "u10", "products": []})])
        assert store.get(user_recs_key("u1")) is not None
        report = erase_user("u1", store=store, log=ErasureLog(tmp_path / "e.jsonl"))
        assert report.complete
        assert store.get(user_recs_key("u1")) is None
        assert store.get(user_recs_key("u10")) is not None
        assert store.get(user_recs_key("u2")) is not None
    finally:
        store.close()
    assert b"recs:user:u1\x00" not in db.read_bytes()
    assert b'"userId":"u1"' not in db.read_bytes()
