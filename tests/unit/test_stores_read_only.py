"""A store opened read-only (``serve``'s read workers): it reads what a writer in another
connection commits, and refuses every write with a StoreError naming the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shopstream.stores.base import StoreEntry, StoreError
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.open import open_store


def test_a_read_only_store_sees_the_writers_commits(tmp_path: Path) -> None:
    writer = SqliteStore(tmp_path / "f.db")
    writer.write_batch([StoreEntry("user:u1:a", 1)])
    reader = open_store(str(tmp_path / "f.db"), read_only=True)
    try:
        assert reader.get("user:u1:a") == 1
        # WAL: the reader goes on while the writer commits, and sees the new values.
        writer.write_batch([StoreEntry("user:u1:a", 2), StoreEntry("user:u1:b", [3])])
        assert reader.get_many(["user:u1:a", "user:u1:b", "nope"]) == [2, [3], None]
        assert reader.ping()
    finally:
        reader.close()
        writer.close()


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "f.db").close()
    reader = SqliteStore(tmp_path / "f.db", read_only=True)
    try:
        for write in (lambda: reader.write_batch([StoreEntry("k", 1)]),
                      lambda: reader.delete(["k"]),
                      lambda: reader.erase_entities(["u1"], [b'"u1"'])):
            with pytest.raises(StoreError, match="is open read-only"):
                write()
        # SQLite itself refuses too (mode=ro), whatever path a write would take.
        conn = reader._connection()
        with pytest.raises(sqlite3.Error, match=r"readonly"):
            conn.execute("INSERT INTO kv VALUES ('k', x'31', NULL)")
    finally:
        reader.close()


def test_a_missing_file_is_not_created_read_only(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="read-only: no such file"):
        SqliteStore(tmp_path / "none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()
