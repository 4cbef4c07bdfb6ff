"""The retention cleanup: what a platform running for months must forget on a clock.

Three sweeps, each bounded by what it walks (never by the store's or the lake's rows):

- **store entries past their time to live**: the embedded (SQLite) store filters expired
  values on read and deletes them only now and then while it is written; the sweep deletes
  every expired row at once (one indexed ``DELETE``). Redis expires keys by itself, so
  there the sweep deletes nothing and says so;
- **lake partitions older than the retention period**: every
  ``stream=NAME/date=YYYY-MM-DD`` folder whose day is more than the stream's retention
  (``lake_days``, or its entry in ``lake_days_by_stream``) before today is removed whole;
- **checkpoints beyond the last few**: in each checkpoint directory, the run folders
  holding a ``checkpoint.pkl`` are kept newest first up to ``keep_checkpoints``, older ones
  are removed; a checkpoint directory's own ``checkpoint.pkl`` (the live run's) is never
  touched, and a ``checkpoint.tmp`` left by a crash in the middle of a save is removed once
  it is older than an hour.

:class:`RetentionConfig` is this module's own: the privacy work of issue 17 (retention
periods per stream) may replace it with a shared one.

Examples
--------
>>> RetentionConfig(lake_days_by_stream={"dead-letter": 30}).days_for("dead-letter")
30
>>> RetentionConfig().days_for("events")
365
>>> RetentionConfig(lake_days_by_stream={"events": 0})
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RetentionConfig.lake_days_by_stream['events'] must be a \
whole number of days > 0, got 0
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError, require_positive
from shopstream.jobs.errors import JobError

__all__ = ["RetentionConfig", "drop_old_partitions", "prune_checkpoints", "purge_expired"]

_PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_STALE_TMP_S = 3_600.0


@dataclass(frozen=True)
class RetentionConfig:
    """How long things are kept.

    Parameters
    ----------
    lake_days
        Days a lake partition is kept after its day (default a year).
    lake_days_by_stream
        Per-stream exceptions, e.g. ``{"dead-letter": 30}``.
    keep_checkpoints
        Run checkpoints kept per checkpoint directory (newest first).
    """

    lake_days: int = 365
    lake_days_by_stream: Mapping[str, int] = field(default_factory=dict)
    keep_checkpoints: int = 3

    def __post_init__(self) -> None:
        require_positive(self, "lake_days", "keep_checkpoints")
        for stream, days in self.lake_days_by_stream.items():
            if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
                msg = (f"RetentionConfig.lake_days_by_stream[{stream!r}] must be a whole "
                       f"number of days > 0, got {days!r}")
                raise ConfigError(msg)
        object.__setattr__(self, "lake_days_by_stream", dict(self.lake_days_by_stream))

    def days_for(self, stream: str) -> int:
        """Days a partition of ``stream`` is kept."""
        return self.lake_days_by_stream.get(stream, self.lake_days)


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
                        today: date) -> dict[str, int]:
    """Remove the lake's day partitions past their stream's retention.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for day in ("2026-01-01", "2026-06-01"):
    ...     (root / "stream=events" / f"date={day}").mkdir(parents=True)
    >>> drop_old_partitions(root, RetentionConfig(lake_days=30), date(2026, 6, 10))
    {'lake_partitions': 1, 'lake_files': 0}
    >>> sorted(p.name for p in (root / "stream=events").iterdir())
    ['date=2026-06-01']
    """
    root = Path(lake)
    if not root.is_dir():
        return {"lake_partitions": 0, "lake_files": 0}
    partitions = files = 0
    for stream_dir in sorted(root.glob("stream=*")):
        keep_from = today - timedelta(days=config.days_for(stream_dir.name[len("stream="):]))
        for folder in sorted(stream_dir.iterdir()):
            found = _PARTITION.match(folder.name)
            if not found or not folder.is_dir():
                continue
            try:
                day = date.fromisoformat(found.group(1))
            except ValueError:
                continue
            if day < keep_from:
                files += sum(1 for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
                partitions += 1
    return {"lake_partitions": partitions, "lake_files": files}


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
