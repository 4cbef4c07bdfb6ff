"""Running one job once: never two at a time, retried with exponential backoff, logged.

:meth:`JobRunner.run` is what the scheduler's worker threads call and what
``shopstream jobs run NAME`` calls. It

1. takes the job's guard without waiting: a lock in this process and an exclusive
   ``flock`` on ``<run log>.<job>.lock`` (another process, e.g. a manual run beside
   ``shopstream serve``). When the previous run still holds it, the run is recorded as
   ``skipped`` and nothing else happens: two runs of one job never overlap;
2. calls the job with the clock's time; an exception is a failed try, and the next try
   waits ``backoff_s * 2**i`` (1, 2, 4... times the configured base) through ``sleep``,
   which returns ``True`` when the runner is being stopped (then no more tries); a
   :class:`~shopstream.jobs.errors.JobSetupError` (the job cannot run as configured) is
   not retried;
3. records the run (start, end, outcome, tries, counts, error) in the
   :class:`~shopstream.jobs.runlog.RunLog`. A failing job never raises out of
   :meth:`JobRunner.run`: the scheduler, the other jobs and the pipeline go on.

The clock and the sleep are injected, so tests check the backoff without waiting.

Examples
--------
>>> import tempfile
>>> from shopstream.jobs.config import JobSpec, JobsConfig
>>> from shopstream.jobs.runlog import RunLog
>>> waits = []
>>> calls = iter([RuntimeError("store down"), RuntimeError("store down"), None])
>>> def flaky(now_ms):
...     error = next(calls)
...     if error:
...         raise error
...     return {"shoppers": 2}
>>> config = JobsConfig(schedules={"hot-recommendations": JobSpec("* * * * *", backoff_s=1)})
>>> runner = JobRunner({"hot-recommendations": flaky}, config,
...                    RunLog(tempfile.mkdtemp() + "/f.jobs.sqlite"),
...                    clock=lambda: 100.0, sleep=lambda s: waits.append(s) or False)
>>> run = runner.run("hot-recommendations")
>>> run.outcome, run.tries, waits, run.counts
('ok', 3, [1.0, 2.0], {'shoppers': 2})
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError
from shopstream.jobs.config import JobsConfig
from shopstream.jobs.errors import JobSetupError
from shopstream.jobs.runlog import RunLog, RunRecord

__all__ = ["JobFunction", "JobRunner"]

log = logging.getLogger("shopstream.jobs")

#: A job: called with the time of the run (epoch ms), returns what it did.
JobFunction = Callable[[int], Mapping[str, Any]]


class JobRunner:
    """Runs jobs by name; see the module documentation."""

    def __init__(self, jobs: Mapping[str, JobFunction], config: JobsConfig, log: RunLog,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], bool] | None = None) -> None:
        self.jobs = dict(jobs)
        self.config = config
        self.log = log
        self.clock = clock
        self._stopping = threading.Event()
        self.sleep = sleep or self._stopping.wait
        self._locks = {name: threading.Lock() for name in self.jobs}
        self.skipped: dict[str, int] = dict.fromkeys(self.jobs, 0)
        self.running: dict[str, bool] = dict.fromkeys(self.jobs, False)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def stop(self) -> None:
        """No more retries: a run waiting for its next try ends as failed."""
        self._stopping.set()

    def run(self, name: str, trigger: str = "manual") -> RunRecord:
        """Run job ``name`` once (see the module documentation); return its record."""
        job = self.jobs.get(name)
        if job is None:
            msg = f"no job named {name!r}; jobs are {sorted(self.jobs)}"
            raise ConfigError(msg)
        with self._guard(name) as acquired:
            if not acquired:
                return self.record_skipped(name, trigger)
            self.running[name] = True
            try:
                return self._tries(name, job, trigger)
            finally:
                self.running[name] = False

    def record_skipped(self, name: str, trigger: str,
                       reason: str = "the previous run is still going") -> RunRecord:
        """Count and record a run that did not happen because one was in progress."""
        self.skipped[name] = self.skipped.get(name, 0) + 1
        now = self._now_ms()
        record = RunRecord(name, trigger, now, now, "skipped", 0, {}, reason)
        self.log.record(record)
        log.warning("job %s skipped: %s", name, reason)
        return record

    def _tries(self, name: str, job: JobFunction, trigger: str) -> RunRecord:
        spec = self.config.spec(name)
        delays = spec.delays()
        started = self._now_ms()
        error = ""
        tries = 0
        for attempt in range(spec.tries):
            tries = attempt + 1
            try:
                counts = dict(job(self._now_ms()))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("job %s try %d of %d failed: %s", name, tries, spec.tries, error)
                if isinstance(exc, JobSetupError):
                    break  # as configured it cannot succeed: no retry
                if attempt < len(delays) and self.sleep(delays[attempt]):
                    break
                continue
            record = RunRecord(name, trigger, started, self._now_ms(), "ok", tries, counts, "")
            self.log.record(record)
            return record
        record = RunRecord(name, trigger, started, self._now_ms(), "failed", tries, {}, error)
        self.log.record(record)
        log.error("job %s failed after %d tries: %s", name, tries, error)
        return record

    @contextmanager
    def _guard(self, name: str) -> Iterator[bool]:
        lock = self._locks[name]
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            path = Path(f"{self.log.path}.{name}.lock")
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            lock.release()
