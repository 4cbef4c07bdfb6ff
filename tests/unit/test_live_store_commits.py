"""The hosted pipeline commits the store in batches, at most ``store_commit_ms`` after the
last commit (``LiveConfig.store_commit_ms``), and lowers its own thread's priority
(``LiveConfig.pipeline_nice``); the store ends up holding the same values either way."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from shopstream.api.live import LiveConfig, LivePipeline
from shopstream.errors import ConfigError
from shopstream.events.records import Output, ShopperFeatures
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.tap import StoreTap

T0 = 1_699_999_980_000


def _requests(n: int, seed: int = 7) -> list[list[bytes]]:
    """``n`` requests of 5 events of 12 shoppers: views, carts and purchases."""
    rng = random.Random(seed)
    out = []
    for r in range(n):
        batch = []
        for i in range(5):
            ts = T0 + 50 * (5 * r + i)
            user = f"u{rng.randrange(12)}"
            event: dict[str, object] = {"sessionId": f"s-{user}", "userId": user,
                                        "timestamp": ts}
            kind = rng.choice(("VIEW_PRODUCT", "VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE"))
            product = f"p{rng.randrange(30)}"
            if kind == "PURCHASE":
                event.update(cartTotal=round(rng.uniform(5, 90), 2),
                             items=[{"productId": product, "quantity": 1, "price": 9.5}])
            else:
                event.update(productId=product, price=9.5, category="c")
            batch.append(json.dumps({"eventType": kind, **event}).encode())
        out.append(batch)
    return out


def _serve_run(path: Path, config: LiveConfig,
               requests: list[list[bytes]]) -> tuple[int, float]:
    """Feed ``requests`` through a pipeline on a store at ``path``, stop it; return the
    store's commits and the seconds the pipeline ran."""
    store = SqliteStore(path)
    started = time.monotonic()
    live = LivePipeline(store, config)
    live.start()
    try:
        for raws in requests:
            assert live.submit(raws) == len(raws)
    finally:
        live.stop()
    elapsed = time.monotonic() - started
    commits = store.stats.batches
    store.close()
    return commits, elapsed


def _contents(path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT key, value FROM kv ORDER BY key").fetchall()


def test_store_contents_are_those_of_a_commit_per_request(tmp_path: Path) -> None:
    requests = _requests(30)
    each = LiveConfig(out_of_orderness_ms=0, idle_ms=60_000, store_commit_ms=0)
    batched = LiveConfig(out_of_orderness_ms=0, idle_ms=60_000, store_commit_ms=1_000)
    commits_each, _ = _serve_run(tmp_path / "each.db", each, requests)
    commits_batched, elapsed = _serve_run(tmp_path / "batched.db", batched, requests)
    before, after = _contents(tmp_path / "each.db"), _contents(tmp_path / "batched.db")
    assert len(before) > 30
    assert after == before
    assert commits_each >= 25  # about one per request
    # One commit a second at most, and one at the stop.
    assert commits_batched <= 2 + elapsed, (commits_batched, elapsed)


def test_a_value_reaches_a_reader_within_the_bound_though_no_request_follows(
        tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = SqliteStore(path)
    reader = SqliteStore(path)  # its own connection, as a read worker's
    bound_s = 0.3
    # No idle advance for a minute: only the bound can make the pipeline commit.
    live = LivePipeline(store, LiveConfig(out_of_orderness_ms=0, idle_ms=60_000,
                                          store_commit_ms=int(bound_s * 1000)))
    started = time.monotonic()
    live.start()
    try:
        for r, raws in enumerate(_requests(20)):
            raws = [*raws, json.dumps({
                "eventType": "VIEW_PRODUCT", "sessionId": "s-last", "userId": "last",
                "productId": f"q{r}", "price": 9.5, "category": "c",
                "timestamp": T0 + 250 * r + 249}).encode()]
            live.submit(raws)
        sent = time.monotonic()
        # The session's recommendations count its items: 19 (the engine holds the newest
        # event until the watermark passes it).
        while (reader.get("recs:session:s-last") or {}).get("context", {}).get(
                "sessionItems") != 19:
            # Generous: the machine may be busy; commits that never happen fail here.
            assert time.monotonic() - sent < bound_s + 10, "never committed"
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        # A commit comes at least bound_s after the one before it (the first at once):
        # not one per request.
        assert store.stats.batches <= 1 + elapsed / bound_s, (store.stats.batches, elapsed)
        assert live.tap is not None and live.tap.waiting == 0
    finally:
        live.stop()
        reader.close()
        store.close()


def test_flush_due_writes_only_once_the_delay_passed(tmp_path: Path) -> None:
    now = [100.0]
    store = SqliteStore(tmp_path / "f.db")
    tap = StoreTap(store, max_delay_s=0.05, clock=lambda: now[0])
    tap.flush()  # the last write is at 100.0
    tap.write(Output("shopper-features", "u1",
                     ShopperFeatures("user", "u1", 0, {"orders_count_24hr": 3})))
    now[0] = 100.049
    assert tap.due_in() == pytest.approx(0.001)
    tap.flush_due()
    assert store.get("user:u1:orders_count_24hr") is None and store.stats.batches == 0
    now[0] = 100.05
    assert tap.due_in() == 0
    tap.flush_due()
    assert store.get("user:u1:orders_count_24hr") == 3 and store.stats.batches == 1
    assert tap.due_in() is None
    store.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")
def test_the_pipeline_thread_lowers_its_own_priority_only() -> None:
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    live = LivePipeline(None, LiveConfig(idle_ms=60_000, pipeline_nice=3))
    live.start()
    try:
        deadline = time.monotonic() + 10
        while live.nice is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        thread_id = live._thread.native_id
        assert thread_id is not None
        assert live.nice == min(19, mine + 3) == os.getpriority(os.PRIO_PROCESS, thread_id)
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # the process's own thread
    finally:
        live.stop()
    unchanged = LivePipeline(None, LiveConfig(idle_ms=60_000, pipeline_nice=0))
    unchanged.start()
    unchanged.stop()
    assert unchanged.nice is None


@pytest.mark.parametrize(("field", "value"), [("store_commit_ms", -1), ("pipeline_nice", 20),
                                              ("pipeline_nice", -1)])
def test_bad_settings_name_the_key_and_value(field: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"LiveConfig.{field} must be .*got {value}"):
        LiveConfig(**{field: value})  # type: ignore[arg-type]
