"""Scheduled jobs beside the stream: hot recommendations, the daily batch, the weekly
retrain and the retention cleanup, on cron schedules (APScheduler), each run recorded.

- :mod:`~shopstream.jobs.config` - :class:`JobsConfig`: schedules and settings (TOML/JSON);
- :mod:`~shopstream.jobs.runlog` - the durable run log beside the store;
- :mod:`~shopstream.jobs.runner` - one run: overlap guard, retries with backoff, record;
- :mod:`~shopstream.jobs.scheduler` - cron triggers firing runs in worker threads;
- :mod:`~shopstream.jobs.shop_jobs` - the four jobs; :mod:`~shopstream.jobs.recs`,
  :mod:`~shopstream.jobs.models`, :mod:`~shopstream.jobs.history`,
  :mod:`~shopstream.jobs.publish`, :mod:`~shopstream.jobs.retention` - what they use;
- :mod:`~shopstream.jobs.service` - the whole, for ``shopstream serve`` and
  ``shopstream jobs``, and the status ``GET /jobs`` shows.

See docs/jobs.md.
"""

from __future__ import annotations

from shopstream.jobs.config import JOB_NAMES, JobsConfig, JobSpec, load_jobs_config
from shopstream.jobs.errors import JobError
from shopstream.jobs.retention import CleanupConfig
from shopstream.jobs.runlog import RunLog, RunRecord, run_log_path
from shopstream.jobs.runner import JobRunner
from shopstream.jobs.service import JobsService, jobs_status, serve_hook

__all__ = [
    "JOB_NAMES",
    "CleanupConfig",
    "JobError",
    "JobRunner",
    "JobSpec",
    "JobsConfig",
    "JobsService",
    "RunLog",
    "RunRecord",
    "jobs_status",
    "load_jobs_config",
    "run_log_path",
    "serve_hook",
]
