"""The run log: every run of every job, durable, in one small SQLite file.

A run is recorded when it ends (``ok`` or ``failed`` after its last try) or when it is
skipped because the previous run of the same job is still going (``skipped``): start and
end (epoch ms), tries, the job's counts (JSON) and the error. The schedules the scheduler
runs are written beside them, so ``GET /jobs`` and ``shopstream jobs list`` (other
processes) show the same jobs and next runs as the scheduler itself.

The file lives beside the store (:func:`run_log_path`): ``features.db`` keeps its runs in
``features.jobs.sqlite``; a Redis store's go under ``~/.local/state/shopstream/``, named by
a digest of the URL (no password in a file name). Bound: the newest ``keep_runs`` runs per
job (older ones are deleted as new ones come).

Examples
--------
>>> import tempfile
>>> log = RunLog(tempfile.mkdtemp() + "/f.jobs.sqlite")
>>> log.record(RunRecord("hot-recommendations", "schedule", 1000, 1500, "ok", 1,
...                      {"shoppers": 3}, ""))
>>> last = log.last_run("hot-recommendations")
>>> last.outcome, last.counts, last.ended_ms - last.started_ms
('ok', {'shoppers': 3}, 500)
>>> log.summary("hot-recommendations")
{'runs': 1, 'failures': 0, 'skipped': 0, 'consecutiveFailures': 0}
>>> run_log_path("/data/features.db")
'/data/features.jobs.sqlite'
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopstream.jobs.errors import JobError

__all__ = ["RunLog", "RunRecord", "run_log_path"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job TEXT NOT NULL, trigger TEXT NOT NULL,
        started_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL, tries INTEGER NOT NULL,
        counts TEXT NOT NULL, error TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, id)",
    """CREATE TABLE IF NOT EXISTS schedules (
        job TEXT PRIMARY KEY, cron TEXT NOT NULL, timezone TEXT NOT NULL,
        enabled INTEGER NOT NULL, updated_ms INTEGER NOT NULL)""",
)


@dataclass(frozen=True)
class RunRecord:
    """One run of one job.

    ``trigger`` is ``schedule`` or ``manual``; ``outcome`` ``ok``, ``failed`` or
    ``skipped``; ``counts`` what the job did (shoppers, entries, partitions...).
    """

    job: str
    trigger: str
    started_ms: int
    ended_ms: int
    outcome: str
    tries: int
    counts: Mapping[str, Any]
    error: str

    def to_json(self) -> dict[str, Any]:
        """The API's form of this run (camelCase)."""
        data = asdict(self)
        return {"job": data["job"], "trigger": data["trigger"],
                "startedMs": data["started_ms"], "endedMs": data["ended_ms"],
                "outcome": data["outcome"], "tries": data["tries"],
                "counts": dict(self.counts), "error": data["error"] or None}


def run_log_path(store_url: str) -> str:
    """Where the runs of the jobs over the store ``store_url`` are logged.

    >>> run_log_path("redis://:pw@cache:6379/0").endswith(".jobs.sqlite")
    True
    """
    if "://" not in store_url:
        path = Path(store_url)
        return str(path.with_name(path.stem + ".jobs.sqlite"))
    digest = hashlib.sha256(store_url.encode()).hexdigest()[:16]
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return str(state / "shopstream" / f"redis-{digest}.jobs.sqlite")


class RunLog:
    """The run log in the SQLite file ``path``; safe to share between threads."""

    def __init__(self, path: str | Path, keep_runs: int = 1_000) -> None:
        self.path = Path(path)
        self.keep_runs = keep_runs
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0,
                                         isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._conn.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open the job run log {str(self.path)!r}: {exc}"
            raise JobError(msg) from None

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                msg = f"job run log {str(self.path)!r}: {exc}"
                raise JobError(msg) from None

    def record(self, run: RunRecord) -> None:
        """Append ``run`` and drop the job's runs beyond ``keep_runs``."""
        counts = json.dumps(dict(run.counts), sort_keys=True, default=str)
        with self._lock:
            try:
                with self._conn:
                    self._conn.execute("BEGIN")
                    self._conn.execute(
                        "INSERT INTO runs (job, trigger, started_ms, ended_ms, outcome, "
                        "tries, counts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (run.job, run.trigger, run.started_ms, run.ended_ms, run.outcome,
                         run.tries, counts, run.error))
                    self._conn.execute(
                        "DELETE FROM runs WHERE job = ? AND id <= (SELECT id FROM runs "
                        "WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (run.job, run.job, self.keep_runs))
            except sqlite3.Error as exc:
                msg = f"cannot record a run of {run.job!r} in {str(self.path)!r}: {exc}"
                raise JobError(msg) from None

    def runs(self, job: str, limit: int = 20) -> list[RunRecord]:
        """The job's latest ``limit`` runs, newest first."""
        rows = self._run("SELECT job, trigger, started_ms, ended_ms, outcome, tries, counts, "
                         "error FROM runs WHERE job = ? ORDER BY id DESC LIMIT ?",
                         (job, limit))
        return [RunRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
                for r in rows]

    def last_run(self, job: str, outcome: str | None = None) -> RunRecord | None:
        """The job's newest run (of ``outcome``, if given), or ``None``."""
        for run in self.runs(job, limit=1 if outcome is None else self.keep_runs):
            if outcome is None or run.outcome == outcome:
                return run
        return None

    def summary(self, job: str) -> dict[str, int]:
        """Runs, failures and skipped runs of ``job`` in the log, and the failures since
        its last successful run."""
        rows = self._run("SELECT outcome, count(*) FROM runs WHERE job = ? GROUP BY outcome",
                         (job,))
        by = dict(rows)
        streak = self._run(
            "SELECT count(*) FROM runs WHERE job = ? AND outcome = 'failed' AND id > "
            "coalesce((SELECT max(id) FROM runs WHERE job = ? AND outcome = 'ok'), 0)",
            (job, job))[0][0]
        return {"runs": sum(by.values()), "failures": by.get("failed", 0),
                "skipped": by.get("skipped", 0), "consecutiveFailures": streak}

    def save_schedules(self, schedules: Mapping[str, tuple[str, bool]], timezone: str,
                       now_ms: int) -> None:
        """Record the schedules being run: job -> (cron, enabled)."""
        with self._lock:
            try:
                with self._conn:
                    self._conn.execute("BEGIN")
                    self._conn.execute("DELETE FROM schedules")
                    self._conn.executemany(
                        "INSERT INTO schedules VALUES (?, ?, ?, ?, ?)",
                        [(job, cron, timezone, int(enabled), now_ms)
                         for job, (cron, enabled) in schedules.items()])
            except sqlite3.Error as exc:
                msg = f"cannot record the schedules in {str(self.path)!r}: {exc}"
                raise JobError(msg) from None

    def schedules(self) -> dict[str, tuple[str, str, bool]]:
        """The recorded schedules: job -> (cron, timezone, enabled)."""
        rows = self._run("SELECT job, cron, timezone, enabled FROM schedules")
        return {r[0]: (r[1], r[2], bool(r[3])) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
