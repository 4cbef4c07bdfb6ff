"""The retention cleanup: what a platform running for months must forget on a clock.

Three sweeps, each bounded by what it walks (never by the store's or the lake's rows):

- **store entries past their time to live**: the embedded (SQLite) store filters expired
  values on read and deletes them only now and then while it is written; the sweep deletes
  every expired row at once (one indexed ``DELETE``). Redis expires keys by itself, so
  there the sweep deletes nothing and says so;
- **lake partitions older than the retention period**: every
  ``stream=NAME/date=YYYY-MM-DD`` folder whose whole day is past the stream's period in
  the retention configuration of the privacy work
  (:class:`shopstream.privacy.retention.RetentionConfig`: days per stream, e.g. raw events
  90, dead letters 30, revenue 730) is removed whole; on a lake on S3 the committed objects
  of those partitions are dropped by one commit ``_commits/retention-<id>.json`` and then
  deleted, under the lake's lock (:mod:`shopstream.lake.s3_rewrite`), so readers see every
  partition or none of the sweep's; while a run holds the lake's lock the sweep leaves
  the lake and says why under ``lake_skipped`` (the next sweep drops them);
- **checkpoints beyond the last few**: in each checkpoint directory, the run folders
  holding a ``checkpoint.pkl`` are kept newest first up to ``keep_checkpoints``
  (:class:`CleanupConfig`), older ones are removed; a checkpoint directory's own
  ``checkpoint.pkl`` (the live run's) is never touched, and a ``checkpoint.tmp`` left by a
  crash in the middle of a save is removed once it is older than an hour.

Examples
--------
>>> CleanupConfig().keep_checkpoints
3
>>> CleanupConfig(keep_checkpoints=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: CleanupConfig.keep_checkpoints must be > 0, got 0
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shopstream.errors import require_positive
from shopstream.jobs.errors import JobError
from shopstream.lake.errors import LakeBusyError, LakeError
from shopstream.lake.object_store import is_s3_url
from shopstream.privacy.retention import RetentionConfig, expired_keys, expired_partitions

__all__ = ["CleanupConfig", "drop_old_partitions", "drop_old_s3_partitions",
           "prune_checkpoints", "purge_expired", "today_utc"]

_STALE_TMP_S = 3_600.0


@dataclass(frozen=True)
class CleanupConfig:
    """What the cleanup keeps besides the retention periods: ``keep_checkpoints`` run
    checkpoints per checkpoint directory (newest first)."""

    keep_checkpoints: int = 3

    def __post_init__(self) -> None:
        require_positive(self, "keep_checkpoints")


def purge_expired(store: Any, now_s: float) -> dict[str, int]:
    """Delete every store entry expired at ``now_s``; ``{"store_expired": n}``.

    Examples
    --------
    >>> import tempfile
    >>> from shopstream.stores.base import StoreEntry
    >>> from shopstream.stores.embedded import SqliteStore
    >>> store = SqliteStore(tempfile.mkdtemp() + "/f.db", clock=lambda: 1000.0)
    >>> store.write_batch([StoreEntry("a", 1, 10.0), StoreEntry("b", 2, None)])
    >>> purge_expired(store, now_s=2000.0)
    {'store_expired': 1}
    >>> store.close()
    """
    path = getattr(store, "path", None)
    if path is None:  # Redis (or another server): expiry is the server's own business
        return {"store_expired": 0}
    try:
        conn = sqlite3.connect(path, timeout=30.0)
        try:
            with conn:
                deleted = conn.execute("DELETE FROM kv WHERE expires_at <= ?",
                                       (now_s,)).rowcount
        finally:
            conn.close()
    except sqlite3.Error as exc:
        msg = f"retention-cleanup: cannot purge the store {str(path)!r}: {exc}"
        raise JobError(msg) from None
    return {"store_expired": max(deleted, 0)}


def drop_old_partitions(lake: str | Path, config: RetentionConfig,
                        now_ms: int) -> dict[str, int | str]:
    """Remove the lake's day partitions past their stream's retention at ``now_ms``.

    A lake on S3 (``s3://...``) drops them through its commit log
    (:func:`drop_old_s3_partitions`).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for day in ("2026-01-01", "2026-06-01"):
    ...     (root / "stream=events" / f"date={day}").mkdir(parents=True)
    >>> june_10 = int(datetime(2026, 6, 10, tzinfo=UTC).timestamp() * 1000)
    >>> drop_old_partitions(root, RetentionConfig(streams={"events": 30}), june_10)
    {'lake_partitions': 1, 'lake_files': 0}
    >>> sorted(p.name for p in (root / "stream=events").iterdir())
    ['date=2026-06-01']
    """
    if is_s3_url(lake):
        return drop_old_s3_partitions(str(lake), config, now_ms)
    if not Path(lake).is_dir():
        return {"lake_partitions": 0, "lake_files": 0}
    partitions = files = 0
    for folder in expired_partitions(lake, config, now_ms):
        files += sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        partitions += 1
    return {"lake_partitions": partitions, "lake_files": files}


def drop_old_s3_partitions(url: str, config: RetentionConfig,
                           now_ms: int) -> dict[str, int | str]:
    """Drop the committed objects of the partitions of the lake on S3 at ``url`` past
    their stream's retention at ``now_ms``, by one commit (see the module's docstring);
    counts as :func:`drop_old_partitions`'s, plus ``lake_skipped`` (why) when a run holds
    the lake. Other failures of the store raise :class:`JobError` (one line)."""
    from shopstream.lake.object_store import ObjectStore, parse_s3_url
    from shopstream.lake.s3_rewrite import commit_changes, locked_lake

    try:
        store = ObjectStore(parse_s3_url(url))
        with locked_lake(store, f"retention-{uuid.uuid4().hex[:12]}") as (lease, log):
            expired = expired_keys(log.live_keys(), config, now_ms)
            drops = [key for keys in expired.values() for key in keys]
            commit_changes(store, lease, "retention", {}, drops)
    except LakeBusyError as exc:  # a run holds the lake (acquire decides: no pre-check)
        return {"lake_partitions": 0, "lake_files": 0, "lake_skipped": str(exc)}
    except LakeError as exc:
        msg = f"retention-cleanup: {exc}"
        raise JobError(msg) from None
    return {"lake_partitions": len(expired), "lake_files": len(drops)}


def prune_checkpoints(directories: tuple[str, ...], keep: int,
                      now_s: float) -> dict[str, int]:
    """Remove run checkpoints beyond the newest ``keep`` in each directory, and stale
    temporary files (see the module documentation)."""
    removed = stale = 0
    for directory in directories:
        root = Path(directory)
        if not root.is_dir():
            continue
        runs = [(p.stat().st_mtime, p.parent) for p in root.glob("*/checkpoint.pkl")]
        runs.sort(key=lambda item: (item[0], item[1].name), reverse=True)
        for _, run in runs[keep:]:
            shutil.rmtree(run)
            removed += 1
        for tmp in [*root.glob("checkpoint.tmp"), *root.glob("*/checkpoint.tmp")]:
            if tmp.exists() and now_s - tmp.stat().st_mtime > _STALE_TMP_S:
                tmp.unlink()
                stale += 1
    return {"checkpoints_removed": removed, "checkpoint_tmp_removed": stale}


def today_utc(now_s: float) -> date:
    """The UTC day of ``now_s`` (the lake partitions by UTC day).

    >>> today_utc(0.0)
    datetime.date(1970, 1, 1)
    """
    return datetime.fromtimestamp(now_s, UTC).date()
