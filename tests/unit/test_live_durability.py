"""The hosted pipeline of ``serve``: bounded pending events (503 + Retry-After), the
write-ahead log before 202, checkpoints, and resuming from them."""

from __future__ import annotations

import collections
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from shopstream.api.live import LiveConfig, LivePipeline, QueueFullError
from shopstream.api.serve_checkpoints import ServeCheckpointConfig
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.errors import ConfigError
from shopstream.stores.embedded import SqliteStore

T0 = 1_699_999_980_000  # a 30 s slot boundary


def _raw(i: int, session: str = "s1") -> bytes:
    kind = "VIEW_PRODUCT" if i % 3 else "ADD_TO_CART"
    return json.dumps({"eventType": kind, "sessionId": session, "userId": "u" + session,
                       "timestamp": T0 + 1_000 * i, "productId": f"p{i % 4}",
                       "category": "Books", "price": 5.0 + i, "quantity": 1}).encode()


def _wait_processed(live: LivePipeline, n: int) -> None:
    deadline = time.monotonic() + 10
    while live.processed < n or live.waiting:
        assert time.monotonic() < deadline, (live.processed, live.waiting, live.last_error)
        time.sleep(0.01)


def _plain(x: Any) -> Any:
    """State as plain data, objects by their fields (operator state has no ``__eq__``)."""
    if isinstance(x, dict):
        return {repr(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, collections.deque)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(repr(v) for v in x)
    if hasattr(x, "__struct_fields__"):
        return type(x).__name__, {f: _plain(getattr(x, f)) for f in x.__struct_fields__}
    if hasattr(x, "__dict__") and not isinstance(x, type):
        return type(x).__name__, _plain(vars(x))
    if hasattr(x, "__slots__"):
        return type(x).__name__, {f: _plain(getattr(x, f, None)) for f in x.__slots__}
    return x


def _durable(directory: Path, every: int = 7) -> LiveConfig:
    # idle_ms is long: no wall-clock advance happens inside a test.
    return LiveConfig(out_of_orderness_ms=2_000, idle_ms=600_000,
                      checkpoints=ServeCheckpointConfig(directory, every_events=every,
                                                        wal_segment_bytes=512))


def test_a_restart_replays_the_log_past_the_checkpoint_to_the_same_state(
        tmp_path: Path) -> None:
    """Crash: the first pipeline is abandoned (no stop, no final checkpoint); a second
    one on the same directory ends in exactly the engine state of the first."""
    store_a = SqliteStore(tmp_path / "a.db")
    first = LivePipeline(store_a, _durable(tmp_path / "ck", every=25))
    first.start()
    for i in range(40):
        assert first.submit([_raw(i, f"s{i % 3}"), _raw(i + 40, "s9")]) == 2
    assert first.submit([_raw(99, "s1")]) == 1
    _wait_processed(first, 81)
    assert first.checkpoints is not None and first.checkpoints.saved == 4  # start, 26, 52, 78
    uninterrupted = _plain(first.engine.snapshot())

    store_b = SqliteStore(tmp_path / "b.db")
    second = LivePipeline(store_b, _durable(tmp_path / "ck", every=25))
    second.start()
    assert second.replayed == 3  # from the last checkpoint, not from the start
    assert second.processed == second.accepted == 81
    assert _plain(second.engine.snapshot()) == uninterrupted
    second.stop()
    store_a.close()
    store_b.close()


def test_checkpoints_delete_the_log_segments_they_cover(tmp_path: Path) -> None:
    live = LivePipeline(SqliteStore(tmp_path / "f.db"), _durable(tmp_path / "ck", every=5))
    live.start()
    for i in range(200):
        live.submit([_raw(i)])
    _wait_processed(live, 200)
    assert live.checkpoints is not None
    status = live.checkpoints.status()
    # 200 records of ~170 bytes in 512-byte segments: without release, ~70 segments
    assert status["walSegments"] <= 4 and status["walBytes"] <= 5 * 512
    live.stop()
    assert len(list((tmp_path / "ck" / "wal").glob("*.wal"))) <= 4


def test_a_graceful_stop_checkpoints_so_nothing_is_replayed(tmp_path: Path) -> None:
    live = LivePipeline(SqliteStore(tmp_path / "f.db"), _durable(tmp_path / "ck", every=1000))
    live.start()
    live.submit([_raw(i) for i in range(10)])
    live.stop()
    again = LivePipeline(SqliteStore(tmp_path / "g.db"), _durable(tmp_path / "ck"))
    again.start()
    assert (again.replayed, again.processed) == (0, 10)
    again.stop()


def test_pending_events_are_bounded_and_refusals_counted(tmp_path: Path) -> None:
    live = LivePipeline(None, LiveConfig(max_queue=5, retry_after_s=3))
    # Not started: nothing drains, so accepted events stay pending.
    live.enqueue(live.validate([_raw(i) for i in range(5)])[0])
    with pytest.raises(QueueFullError, match="5 events waiting, at most 5") as info:
        live.enqueue(live.validate([_raw(9)])[0])
    assert info.value.retry_after_s == 3
    assert (live.waiting, live.refused) == (5, 1)
    assert "shopstream_events_refused_total 1" in live.metrics_text()


def _post(url: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(url + "/events", body,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_post_events_answers_503_with_retry_after_beyond_the_bound(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          max_pending_events=2,
                                          checkpoint_dir=str(tmp_path / "ck")))
    server.start()
    try:
        status, headers, _ = _post(server.url,
                                   b"[" + b",".join(_raw(i) for i in range(3)) + b"]")
        assert (status, headers["retry-after"]) == (503, "1")
        status, _, body = _post(server.url, _raw(1))
        assert (status, body) == (202, {"accepted": 1})
        live = server.state.live
        assert live is not None
        _wait_processed(live, 1)
        with urllib.request.urlopen(server.url + "/health", timeout=10) as answer:
            health = json.loads(answer.read())["pipeline"]
        # Processed by the operators, or held by the engine until the watermark passes it.
        assert health["eventsAccepted"] == health["eventsProcessed"] + health[
            "eventsBuffered"] == 1
        assert (health["eventsRefused"], health["eventsPending"]) == (3, 0)
        assert health["checkpoints"]["directory"] == str(tmp_path / "ck")
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as answer:
            metrics = answer.read().decode()
        assert "shopstream_events_refused_total 3" in metrics
        assert "shopstream_events_accepted_total 1" in metrics
    finally:
        server.stop()


def test_the_collector_routes_answer_503_with_retry_after_too(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0,
                                          max_pending_events=1))
    server.start()
    try:
        body = json.dumps({
            "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": [{"e": "pv", "sid": "s1", "dtm": str(T0 + i), "eid": f"e{i}",
                      "p": "web"} for i in range(2)]}).encode()
        request = urllib.request.Request(
            server.url + "/com.snowplowanalytics.snowplow/tp2", body,
            headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert (info.value.code, info.value.headers["retry-after"]) == (503, "1")
        info.value.close()
        live = server.state.live
        assert live is not None and live.refused == 2
    finally:
        server.stop()


def test_a_checkpoint_dir_needs_the_hosted_pipeline() -> None:
    with pytest.raises(ConfigError, match="checkpoint_dir needs the hosted pipeline"):
        ServeConfig(store="f.db", workers=2, checkpoint_dir="ck")


def test_after_a_log_failure_every_write_is_refused_and_nothing_stays_pending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shopstream.connectors.wal import WalError

    live = LivePipeline(None, _durable(tmp_path / "ck"))
    live.start()
    assert live.submit([_raw(1)]) == 1
    assert live.checkpoints is not None

    def disk_full() -> None:
        msg = "cannot sync the write-ahead log: No space left on device"
        raise WalError(msg)

    monkeypatch.setattr(live.checkpoints.wal, "sync", disk_full)
    with pytest.raises(WalError, match="No space left"):
        live.submit([_raw(2), _raw(3)])
    with pytest.raises(WalError, match="No space left"):
        live.submit([_raw(4)])
    _wait_processed(live, 1)
    assert (live.accepted, live.refused, live.waiting) == (1, 3, 0)
    assert live.status()["logFailure"] is not None
    monkeypatch.undo()
    live.stop()


@pytest.mark.parametrize("name", ["every_events", "every_seconds", "wal_segment_bytes"])
@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_serve_checkpoint_config_refuses_a_value_not_above_zero(name: str, value: float,
                                                                tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"ServeCheckpointConfig.{name} must be > 0"):
        ServeCheckpointConfig(tmp_path, **{name: value})  # type: ignore[arg-type]
