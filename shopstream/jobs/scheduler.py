"""The scheduler: APScheduler 3 cron triggers firing :class:`~shopstream.jobs.runner.JobRunner`
runs in worker threads.

Each enabled job is an APScheduler job with a ``CronTrigger`` from its cron expression,
``max_instances=1`` (a run still going when the next fire time comes is skipped, and the
skip is recorded through a listener), ``coalesce=True`` (fire times missed while the
process was busy or asleep make one run, not a burst) and a ``misfire_grace_time``. Runs
happen in the scheduler's thread pool, one thread per job: never on the event loop of the
API nor on the pipeline's thread, so a slow or failing job never blocks the stream (they
share the interpreter, so a CPU-heavy job takes a share of it, like any thread).

The fire times of a schedule are pure functions of the cron expression and an instant
(:func:`fire_times`, :func:`next_fire_time`), which is how the tests check them with an
injected clock.

Examples
--------
>>> from datetime import datetime, UTC
>>> start = datetime(2026, 12, 6, 23, 50, tzinfo=UTC)  # a Sunday
>>> [t.strftime("%a %H:%M") for t in fire_times("*/15 * * * *", "UTC", start,
...                                              start.replace(day=7, hour=0, minute=31))]
['Mon 00:00', 'Mon 00:15', 'Mon 00:30']
>>> next_fire_time("0 3 * * sun", "UTC", start).isoformat()
'2026-12-13T03:00:00+00:00'
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shopstream.errors import ConfigError, require
from shopstream.jobs.config import JobsConfig
from shopstream.jobs.runner import JobRunner

__all__ = ["JobScheduler", "cron_trigger", "fire_times", "next_fire_time"]

log = logging.getLogger("shopstream.jobs")


def cron_trigger(cron: str, timezone: str) -> Any:
    """APScheduler's ``CronTrigger`` of a five-field cron expression."""
    triggers = require("apscheduler.triggers.cron", "shopstream[serve]")
    try:
        return triggers.CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        msg = f"cron expression {cron!r} is not valid: {exc}"
        raise ConfigError(msg) from None


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time of ``cron`` strictly after ``after``."""
    trigger = cron_trigger(cron, timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire


def fire_times(cron: str, timezone: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every fire time of ``cron`` in ``(start, end]``, in order."""
    trigger = cron_trigger(cron, timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
    while fire is not None and fire <= end:
        yield fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))


class JobScheduler:
    """The runner's jobs on their cron schedules, in a background thread pool.

    ``start`` schedules every enabled job and records the schedules in the run log;
    ``shutdown`` stops scheduling, ends retry waits and waits for running jobs.
    """

    def __init__(self, runner: JobRunner, config: JobsConfig,
                 misfire_grace_s: int = 600) -> None:
        background = require("apscheduler.schedulers.background", "shopstream[serve]")
        pool = require("apscheduler.executors.pool", "shopstream[serve]")
        self.runner = runner
        self.config = config
        self._scheduler = background.BackgroundScheduler(
            timezone=ZoneInfo(config.timezone),
            executors={"default": pool.ThreadPoolExecutor(max(1, len(runner.jobs)))},
            job_defaults={"max_instances": 1, "coalesce": True,
                          "misfire_grace_time": misfire_grace_s})

    def start(self) -> None:
        events = require("apscheduler.events", "shopstream[serve]")
        schedules = {}
        for name in self.runner.jobs:
            spec = self.config.spec(name)
            schedules[name] = (spec.cron, spec.enabled)
            if spec.enabled:
                self._scheduler.add_job(self.runner.run, cron_trigger(spec.cron,
                                                                      self.config.timezone),
                                        args=(name, "schedule"), id=name, name=name)
        self._scheduler.add_listener(self._max_instances, events.EVENT_JOB_MAX_INSTANCES)
        self.runner.log.save_schedules(schedules, self.config.timezone,
                                       int(self.runner.clock() * 1000))
        self._scheduler.start()
        log.info("job scheduler started: %s", ", ".join(
            f"{n} ({c})" for n, (c, on) in schedules.items() if on))

    def _max_instances(self, event: Any) -> None:
        self.runner.record_skipped(event.job_id, "schedule",
                                   "the previous run is still going (max_instances=1)")

    def run_soon(self, name: str) -> None:
        """Fire job ``name`` now in the scheduler's pool (its schedule stays)."""
        job = self._scheduler.get_job(name)
        if job is None:
            msg = f"job {name!r} is not scheduled (disabled or unknown)"
            raise ConfigError(msg)
        job.modify(next_run_time=datetime.now(ZoneInfo(self.config.timezone)))
        self._scheduler.wakeup()

    def next_runs(self) -> dict[str, datetime | None]:
        """Each scheduled job's next fire time."""
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self, wait: bool = True) -> None:
        self.runner.stop()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
