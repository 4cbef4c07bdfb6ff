"""The jobs as a service: run log, runner, scheduler and publisher over one store, and
the status ``GET /jobs`` and ``shopstream jobs list`` show.

:class:`JobsService` is what ``shopstream serve`` starts beside its pipeline (through
:func:`serve_hook`) and what ``shopstream jobs`` runs in the foreground. :func:`jobs_status`
reads only the run log (and the cron expressions recorded in it), so any process can
answer it: each job's schedule, next run (computed from the cron expression at the time
asked), last run, last failure and counts of runs, failures and skipped runs.

Examples
--------
>>> import tempfile
>>> from datetime import datetime, UTC
>>> from shopstream.jobs.runlog import RunLog
>>> log = RunLog(tempfile.mkdtemp() + "/f.jobs.sqlite")
>>> now = datetime(2026, 12, 7, 3, 50, tzinfo=UTC)
>>> [(j["name"], j["cron"], j["nextRun"]) for j in jobs_status(log, JobsConfig(), now)][:2]
[('hot-recommendations', '*/15 * * * *', '2026-12-07T04:00:00+00:00'), \
('daily-recommendations', '30 2 * * *', '2026-12-08T02:30:00+00:00')]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from shopstream.jobs.config import JOB_NAMES, JobsConfig, load_jobs_config
from shopstream.jobs.publish import ModelPublisher
from shopstream.jobs.runlog import RunLog, run_log_path
from shopstream.jobs.runner import JobRunner
from shopstream.jobs.scheduler import JobScheduler, next_fire_time
from shopstream.jobs.shop_jobs import ShopJobs
from shopstream.privacy.retention import RetentionConfig
from shopstream.stores.base import FeatureStore

__all__ = ["JobsService", "jobs_status", "serve_hook"]

log = logging.getLogger("shopstream.jobs")


class JobsService:
    """Everything the jobs need over ``store``; ``live`` (a hosted
    :class:`~shopstream.api.live.LivePipeline`) receives retrained models."""

    def __init__(self, store: FeatureStore, config: JobsConfig, live: Any = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.log = RunLog(run_log_path(store.url), config.keep_runs)
        self.publisher = ModelPublisher(live) if live is not None else None
        self.jobs = ShopJobs(store, config, self.publisher)
        self.runner = JobRunner(self.jobs.functions(), config, self.log, clock)
        self.scheduler: JobScheduler | None = None

    def start(self) -> None:
        """Publish the newest saved model's profile part, then schedule every enabled
        job (worker threads; returns at once)."""
        self.jobs.publish_latest()
        self.scheduler = JobScheduler(self.runner, self.config)
        self.scheduler.start()

    def stop(self) -> None:
        """Stop scheduling, end retry waits, wait for running jobs, close the log."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        else:
            self.runner.stop()
        self.log.close()

    def status(self, now: datetime | None = None) -> list[dict[str, Any]]:
        return jobs_status(self.log, self.config, now)


def jobs_status(log: RunLog, defaults: JobsConfig,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """Every job's schedule, next run, last run and failures (see the module)."""
    recorded = log.schedules()
    out = []
    for name in JOB_NAMES:
        if name in recorded:
            cron, timezone, enabled = recorded[name]
        else:
            spec = defaults.spec(name)
            cron, timezone, enabled = spec.cron, defaults.timezone, spec.enabled
        when = now or datetime.now().astimezone()
        upcoming = next_fire_time(cron, timezone, when) if enabled else None
        last = log.last_run(name)
        failure = log.last_run(name, "failed")
        out.append({"name": name, "cron": cron, "timezone": timezone, "enabled": enabled,
                    "scheduled": name in recorded,
                    "nextRun": upcoming.isoformat() if upcoming else None,
                    "lastRun": last.to_json() if last else None,
                    "lastFailure": failure.to_json() if failure else None,
                    **log.summary(name)})
    return out


def serve_hook(config_path: str | None, lake: str | None = None,
               retention: RetentionConfig | None = None
               ) -> Callable[[Any], Callable[[], None]]:
    """What ``shopstream serve`` calls with its state once the pipeline runs: starts the
    jobs over the served store, publishing to the hosted pipeline; returns their stop.
    ``lake`` (``serve --lake``) and ``retention`` (``serve --retention-config``) stand in
    for the configuration's."""
    config = load_jobs_config(config_path).with_sources(lake)
    if retention is not None:
        config = replace(config, retention=retention)

    def start(state: Any) -> Callable[[], None]:
        service = JobsService(state.store, config, live=state.live)
        service.start()
        return service.stop

    return start
