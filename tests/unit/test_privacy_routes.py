"""``DELETE /users/{id}`` on a running ``serve``: keys, the live pipeline, the store, the log;
and pseudonymised ids through the service's doors (``POST /events``, Snowplow)."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from privacy_data import sqlite_bytes

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.events.pseudonym import KEY_ENV, Pseudonymiser
from shopstream.privacy.erasure import ERASURE_LOG_ENV

API_KEY = "api-key-0123456789abcdef"
PSEUDONYM_KEY = "pseudonym-key-0123456789"
TARGET = "ulla-shopper-5151"
OTHER = "vic-shopper-6262"
TP2 = "/com.snowplowanalytics.snowplow/tp2"


def _events(user: str, session: str) -> list[dict[str, Any]]:
    # On a 30 s boundary of the rolling features' slots (a slot back from the clock), so
    # their first emission is due at once, not up to 30 s of idle watermark later.
    now = int(time.time()) // 30 * 30_000 - 30_000
    return [
        {"eventType": "VIEW_PRODUCT", "sessionId": session, "userId": user, "timestamp": now,
         "productId": "p-tea", "price": 30.0, "device": "mobile"},
        {"eventType": "ADD_TO_CART", "sessionId": session, "userId": user,
         "timestamp": now + 1_000, "productId": "p-tea", "price": 30.0, "quantity": 4},
    ]


def _wait(check: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_delete_user_needs_a_key_and_erases_the_live_pipeline_and_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, PSEUDONYM_KEY)
    monkeypatch.setenv(ERASURE_LOG_ENV, str(tmp_path / "erasures.jsonl"))
    db = tmp_path / "features.db"
    config = ServeConfig(store=str(db), port=0, api_keys=(API_KEY,), idle_ms=100,
                         out_of_orderness_ms=0, checkpoint_dir=str(tmp_path / "ck"))
    server = BackgroundServer(config)
    server.start()
    alias = Pseudonymiser(PSEUDONYM_KEY.encode()).pseudonym(TARGET)
    other = Pseudonymiser(PSEUDONYM_KEY.encode()).pseudonym(OTHER)
    keyed = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            refused = http.delete(f"/users/{TARGET}")
            assert refused.status_code == 401 and "API key" in refused.json()["detail"]
            wrong = http.delete(f"/users/{TARGET}", headers={"X-API-Key": "x" * 20})
            assert wrong.status_code == 401
            for user, session in ((TARGET, "sess-ulla-1"), (OTHER, "sess-vic-1")):
                posted = http.post("/events", headers=keyed,
                                   content=json.dumps(_events(user, session)))
                assert posted.status_code == 202, posted.text
            # A Snowplow event of theirs too (uid is the user id).
            pixel = {"e": "pv", "p": "web", "tv": "js-3", "eid": "e-ulla", "uid": TARGET,
                     "sid": "sess-ulla-2", "dtm": str(int(time.time() * 1000) - 20_000),
                     "url": "https://shop.example/"}
            envelope = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/"
                                  "jsonschema/1-0-4", "data": [pixel]}
            assert http.post(TP2, headers=keyed, content=json.dumps(envelope)).status_code == 200
            _wait(lambda: http.get(f"/users/{alias}/features").status_code == 200
                  and http.get(f"/users/{other}/features").status_code == 200)
            live = server.state.live
            assert live is not None
            _wait(lambda: alias.encode() in pickle.dumps(live.engine.snapshot()))
            # Pseudonymised at every door: the raw id is nowhere.
            assert TARGET.encode() not in sqlite_bytes(db)
            assert TARGET.encode() not in pickle.dumps(live.engine.snapshot())
            assert http.get(f"/users/{TARGET}/features").status_code == 404

            answer = http.delete(f"/users/{TARGET}", headers={"X-API-Key": API_KEY})
            assert answer.status_code == 200, answer.text
            record = answer.json()
            assert record["complete"] is True and record["requestedBy"] == "api"
            assert record["store"]["keysRemoved"] > 0 and record["live"]["keysRemoved"] > 0
            assert TARGET not in answer.text and alias not in answer.text
            assert http.get(f"/users/{alias}/features").status_code == 404
            assert http.get(f"/users/{other}/features").status_code == 200
            # serve's checkpoint was taken at the erasure: it no longer holds them.
            saved = (tmp_path / "ck" / "checkpoint.pkl").read_bytes()
            assert alias.encode() not in saved and other.encode() in saved
    finally:
        server.stop()
    state = pickle.dumps(server.state.live.engine.snapshot())  # type: ignore[union-attr]
    for where in (sqlite_bytes(db), state):
        assert alias.encode() not in where and TARGET.encode() not in where
        assert b"sess-ulla-1" not in where
    assert other.encode() in state
    # A restart resumes from the checkpoint and replays the log: they do not come back.
    again = BackgroundServer(config)
    again.start()
    try:
        resumed = pickle.dumps(again.state.live.engine.snapshot())  # type: ignore[union-attr]
        assert other.encode() in resumed and alias.encode() not in resumed
    finally:
        again.stop()
    log = (tmp_path / "erasures.jsonl").read_bytes()
    assert len(log.splitlines()) == 1 and TARGET.encode() not in log
    assert alias.encode() not in log


def test_a_server_without_keys_refuses_erasures(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answer = http.delete("/users/anyone")
            assert answer.status_code == 403
            assert "needs API keys" in answer.json()["detail"]
    finally:
        server.stop()
