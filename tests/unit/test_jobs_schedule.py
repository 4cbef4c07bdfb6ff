"""Schedules with an injected clock: every default (and configured) cron expression fires
exactly when it should, the scheduler registers those triggers, configuration files load
and bad ones fail with one line naming the key and value."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopstream.errors import ConfigError
from shopstream.jobs.config import JOB_NAMES, JobsConfig, JobSpec, load_jobs_config
from shopstream.jobs.runlog import RunLog
from shopstream.jobs.runner import JobRunner
from shopstream.jobs.scheduler import JobScheduler, fire_times, next_fire_time

# Monday 7 December 2026, 00:00 UTC: one week from here is Monday 14 December.
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)
WEEK = MONDAY + timedelta(days=7)


def _week(name: str, config: JobsConfig | None = None) -> list[datetime]:
    config = config or JobsConfig()
    return list(fire_times(config.spec(name).cron, config.timezone,
                           MONDAY - timedelta(microseconds=1), WEEK))


def test_hot_recommendations_fire_every_quarter_hour() -> None:
    times = _week("hot-recommendations")
    assert len(times) == 7 * 24 * 4 + 1  # both ends of the closed week
    assert times[:3] == [MONDAY, MONDAY + timedelta(minutes=15),
                         MONDAY + timedelta(minutes=30)]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(times))


def test_daily_batch_fires_at_0230_each_day() -> None:
    times = _week("daily-recommendations")
    assert times == [MONDAY + timedelta(days=d, hours=2, minutes=30) for d in range(7)]


def test_weekly_retrain_fires_on_sunday_at_0300_only() -> None:
    times = _week("weekly-retrain")
    assert times == [datetime(2026, 12, 13, 3, 0, tzinfo=UTC)]
    assert times[0].strftime("%A") == "Sunday"


def test_retention_cleanup_fires_at_0400_each_day() -> None:
    assert _week("retention-cleanup") == [MONDAY + timedelta(days=d, hours=4)
                                          for d in range(7)]


def test_next_fire_time_is_strictly_after_now() -> None:
    at_fire = MONDAY + timedelta(minutes=15)
    assert next_fire_time("*/15 * * * *", "UTC", at_fire) == at_fire + timedelta(minutes=15)
    assert next_fire_time("*/15 * * * *", "UTC", at_fire - timedelta(seconds=1)) == at_fire


def test_configured_schedule_and_time_zone() -> None:
    config = JobsConfig(schedules={"daily-recommendations": JobSpec("0 1 * * mon-fri")},
                        timezone="Europe/Berlin")
    times = _week("daily-recommendations", config)
    # 01:00 in Berlin (UTC+1 in December) is 00:00 UTC: five working days, and the
    # next Monday at the closed end of the week.
    assert [t.astimezone(UTC) for t in times] == [
        MONDAY + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7)]


def test_scheduler_registers_each_enabled_job_with_its_next_fire_time(tmp_path: Path) -> None:
    config = JobsConfig(schedules={"weekly-retrain": JobSpec("0 3 * * sun", enabled=False)})
    jobs = {name: (lambda now_ms: {}) for name in JOB_NAMES}
    log = RunLog(tmp_path / "f.jobs.sqlite")
    scheduler = JobScheduler(JobRunner(jobs, config, log), config)
    scheduler.start()
    try:
        before = datetime.now(UTC)
        upcoming = scheduler.next_runs()
    finally:
        scheduler.shutdown()
    assert sorted(upcoming) == ["daily-recommendations", "hot-recommendations",
                                "retention-cleanup"]
    for name, when in upcoming.items():
        expected = next_fire_time(config.spec(name).cron, "UTC", before - timedelta(seconds=1))
        assert when == expected
    recorded = log.schedules()
    assert recorded["weekly-retrain"] == ("0 3 * * sun", "UTC", False)
    assert recorded["hot-recommendations"] == ("*/15 * * * *", "UTC", True)


def test_config_loads_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "jobs.toml"
    toml.write_text('timezone = "UTC"\nlake = "lake"\ncheckpoint_dirs = ["a", "b"]\n'
                    '[schedules.hot-recommendations]\ncron = "*/5 * * * *"\nbackoff_s = 2\n'
                    '[batch]\nbatch_size = 5000\n'
                    '[retention]\ndefault = 30\ndead-letter = 7\n[cleanup]\nkeep_checkpoints = 5\n')
    config = load_jobs_config(toml)
    assert config.spec("hot-recommendations") == JobSpec("*/5 * * * *", backoff_s=2)
    assert config.spec("daily-recommendations").cron == "30 2 * * *"  # default kept
    assert config.batch.batch_size == 5000
    assert config.checkpoint_dirs == ("a", "b")
    assert config.retention.days_for("dead-letter") == 7
    assert config.retention.days_for("top-products") == 730  # the privacy defaults stay
    assert config.retention.days_for("no-such-stream") == 30
    assert config.cleanup.keep_checkpoints == 5
    json_file = tmp_path / "jobs.json"
    json_file.write_text('{"schedules": {"weekly-retrain": {"enabled": false}}}')
    spec = load_jobs_config(json_file).spec("weekly-retrain")
    assert (spec.cron, spec.enabled) == ("0 3 * * sun", False)


@pytest.mark.parametrize(("text", "message"), [
    ('[batch]\nbatch_size = 10\n', "BatchRecsConfig.batch_size must be >= 1000, got 10"),
    ('[hot]\nwindow = "2hr"\n', "HotRecsConfig.window must be '5min' or '1hr', got '2hr'"),
    ('[schedules.hot-recommendations]\ncron = "61 * * * *"\n',
     "cron expression '61 * * * *' is not valid"),
    ('[schedules.hot-recommendations]\ntries = 0\n', "JobSpec.tries must be > 0, got 0"),
    ('[schedules.weekly-retrain]\ncron = "0 3 * * 0"\n',
     "write the day of the week as names (sun, mon-fri): APScheduler counts 0 as Monday"),
    ('timezone = "Mars/Olympus"\n', "JobsConfig.timezone is not a known time zone"),
    ('[retrain]\nbogus = 1\n', "retrain has unknown setting 'bogus'"),
    ('[retention]\nevents = 0\n',
     "RetentionConfig.streams['events'] must be an int >= 1 (days), got 0"),
    ('nonsense', "is not valid TOML"),
])
def test_bad_configuration_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_jobs_config(path)
