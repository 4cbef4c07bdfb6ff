"""The erasure test of issue 17 on a real Redis store: after ``erase``, no key or value of
the server names the shopper or their sessions, and a resumed run does not bring them
back."""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy_data import SPLIT, TARGET, TARGET_SESSIONS, TOTAL, lake_text, run, write_input

from shopstream.privacy.erasure import ErasureLog, erase_user
from shopstream.stores.redis_store import RedisStore

pytestmark = pytest.mark.integration


def _everything(url: str) -> bytes:
    """Every key and string value on the server."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(count=1_000))
        values = client.mget(keys) if keys else []
        return b"\n".join(keys + [v for v in values if v is not None])
    finally:
        client.close()


def test_erasure_on_redis_leaves_no_key_or_value_of_theirs(redis_url: str,
                                                           tmp_path: Path) -> None:
    src = write_input(tmp_path / "in.jsonl")
    out, ckpt, lake = tmp_path / "out", tmp_path / "ckpt", tmp_path / "lake"
    store = RedisStore(redis_url)
    try:
        run(src, out, ckpt, lake, store, crash=True)
        needles = [TARGET.encode(), *(s.encode() for s in TARGET_SESSIONS)]
        before = _everything(redis_url)
        assert all(n in before for n in needles)
        assert store.get("user:other-shopper-2:cart_add_count_5min") is not None

        report = erase_user(TARGET, store=store, lake=lake, checkpoint_dir=ckpt,
                            log=ErasureLog(tmp_path / "erasures.jsonl"))
        assert report.complete and report.store_keys > 0
        after = _everything(redis_url)
        assert not any(n in after for n in needles)
        assert store.get("user:other-shopper-2:cart_add_count_5min") is not None
        assert TARGET.encode() not in (ckpt / "checkpoint.pkl").read_bytes()

        summary = run(src, out, ckpt, lake, store, resume=True)
        assert summary is not None and summary.lines == TOTAL
        assert summary.resumed_at_line == SPLIT
        again = _everything(redis_url)
        assert not any(n in again for n in needles)
        assert TARGET not in lake_text(lake)
        assert TARGET.encode() not in (ckpt / "checkpoint.pkl").read_bytes()
    finally:
        store.close()


def test_delete_user_on_a_serve_with_redis_forgets_them_in_the_writers_mirror(
        redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import time

    import httpx

    from shopstream.api.server import BackgroundServer, ServeConfig
    from shopstream.privacy.erasure import ERASURE_LOG_ENV

    monkeypatch.setenv(ERASURE_LOG_ENV, str(tmp_path / "erasures.jsonl"))
    key = "api-key-0123456789abcdef"
    target, other = "wanda-shopper-7373", "xeno-shopper-8484"
    server = BackgroundServer(ServeConfig(store=redis_url, port=0, api_keys=(key,),
                                          idle_ms=100, out_of_orderness_ms=0))
    server.start()
    # On a 30 s slot boundary of the rolling features, a slot back from the clock: the
    # features are emitted once the idle watermark passes the slot end, which is then the
    # event's own time (an unaligned time waited up to 30 s for its slot to end, longer
    # than the 20 s below, and failed about half the runs).
    now = int(time.time()) // 30 * 30_000 - 30_000
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for user in (target, other):
                event = {"eventType": "VIEW_PRODUCT", "sessionId": f"sess-{user}",
                         "userId": user, "timestamp": now, "productId": "p-tea",
                         "price": 3.0}
                posted = http.post("/events", content=json.dumps(event),
                                   headers={"X-API-Key": key,
                                            "Content-Type": "application/json"})
                assert posted.status_code == 202
            deadline = time.monotonic() + 20
            while not all(http.get(f"/users/{u}/features").status_code == 200
                          for u in (target, other)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            live = server.state.live
            assert live is not None and live.tap is not None and live.tap.mirror is not None
            mirrored = [e.key for e in live.tap.mirror.entries(time.time())]
            assert any(target in k for k in mirrored)
            answer = http.delete(f"/users/{target}", headers={"X-API-Key": key})
            assert answer.status_code == 200 and answer.json()["store"]["keysRemoved"] > 0
            mirrored = [e.key for e in live.tap.mirror.entries(time.time())]
            assert not any(target in k for k in mirrored)
            assert any(other in k for k in mirrored)
            assert target.encode() not in _everything(redis_url)
            assert http.get(f"/users/{other}/features").status_code == 200
    finally:
        server.stop()
