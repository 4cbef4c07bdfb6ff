"""Retention periods per stream, and the exactness of erasure's matching (an id is never
matched inside another)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shopstream.errors import ConfigError
from shopstream.privacy.retention import DEFAULT_DAYS, RetentionConfig, expired_partitions
from shopstream.privacy.scrub import scrub_engine_snapshot
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore

DAY_MS = 86_400_000


def test_retention_defaults_overrides_and_errors() -> None:
    config = RetentionConfig.from_mapping({"events": 7, "default": 10, "store": 2})
    assert config.days_for("events") == 7
    assert config.days_for("fraud-alerts") == DEFAULT_DAYS["fraud-alerts"]
    assert config.days_for("a-new-stream") == 10
    assert config.cap_ttl_s(10 * 86_400.0) == 2 * 86_400.0
    assert config.cutoff_ms("events", 100 * DAY_MS) == 93 * DAY_MS
    for bad in ({"events": -1}, {"events": 1.5}, {"events": True}, {"default": 0}):
        with pytest.raises(ConfigError, match="RetentionConfig"):
            RetentionConfig.from_mapping(bad)
    with pytest.raises(TypeError):
        config.streams["events"] = 1  # type: ignore[index]


def test_expired_partitions_follow_each_streams_period(tmp_path: Path) -> None:
    # 2024-01-01 is day 19723; "now" is 2024-01-31 (day 19753).
    for stream, day in (("events", "2023-12-01"), ("events", "2024-01-30"),
                        ("dead-letter", "2023-12-31"), ("revenue-stats", "2023-12-01")):
        (tmp_path / f"stream={stream}" / f"date={day}").mkdir(parents=True)
    (tmp_path / "stream=events" / "not-a-date").mkdir()
    config = RetentionConfig(streams={"events": 30, "dead-letter": 30})
    found = expired_partitions(tmp_path, config, now_ms=19_753 * DAY_MS)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "stream=events/date=2023-12-01", "stream=dead-letter/date=2023-12-31"]


def test_an_id_is_never_matched_inside_another(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "f.db")
    store.write_batch([StoreEntry("user:u1:x", 1), StoreEntry("user:u10:x", 2),
                       StoreEntry("user:au1:x", 3), StoreEntry("recs:session:s1",
                                                               {"userId": "u10"})])
    assert store.erase_entities(["u1"], [b'"u1"']) == ["user:u1:x"]
    assert store.get_many(["user:u10:x", "user:au1:x"]) == [2, 3]
    store.close()
    state = {"d": {"u1": 1, "u10": 2, "g": ["u10", "xu1"]}}
    snap: dict[str, Any] = {"stages": {"f": {"state": state, "broadcast": None}}}
    result = scrub_engine_snapshot(snap, frozenset({"u1"}))
    assert result.snapshot["stages"]["f"]["state"]["d"] == {"u10": 2, "g": ["u10", "xu1"]}
    assert snap["stages"]["f"]["state"]["d"]["u1"] == 1  # the input is left alone


def test_ids_with_colons_own_only_their_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "f.db")
    store.write_batch([StoreEntry("user:a:x", 1), StoreEntry("user:a:b:x", 2),
                       StoreEntry("recs:session:s:1", {"userId": "a:b"}),
                       StoreEntry("profile:user:a", 3)])
    assert sorted(store.erase_entities(["a"], [b'"a"'])) == ["profile:user:a", "user:a:x"]
    assert sorted(store.erase_entities(["a:b"], [b'"a:b"'])) == ["recs:session:s:1",
                                                                  "user:a:b:x"]
    store.close()
