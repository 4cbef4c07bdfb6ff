"""What the scheduler runs and when: :class:`JobsConfig`, loadable from TOML or JSON.

Every job has a :class:`JobSpec` (a five-field cron expression read by APScheduler's
``CronTrigger.from_crontab``, in ``timezone``; whether it is scheduled; how many tries and
the first retry delay) and its own settings. Defaults are those of a shop: hot
recommendations every 15 minutes, the daily batch at 02:30, the retrain on Sunday 03:00,
the retention cleanup at 04:00 (UTC). The day-of-week field takes names only (``sun``,
``mon-fri``): APScheduler 3 counts numbers from Monday (``0`` = Monday), classic cron
from Sunday, so a number would be read one way or the other by surprise.

A file holds any subset of the fields, as tables (TOML) or objects (JSON)::

    timezone = "UTC"
    lake = "out/lake"                  # history for the retrain (else `events`)
    events = "out/events.jsonl"
    checkpoint_dirs = ["out/ckpt"]
    [schedules.hot-recommendations]
    cron = "*/5 * * * *"
    [hot]
    max_shoppers = 20000
    [retention]                        # days per lake stream (shopstream.privacy)
    events = 90
    default = 365
    [cleanup]
    keep_checkpoints = 3

Examples
--------
>>> config = JobsConfig()
>>> config.spec("hot-recommendations").cron
'*/15 * * * *'
>>> jobs_config_from_dict({"schedules": {"weekly-retrain": {"cron": "0 5 * * sat"}}}
...                       ).spec("weekly-retrain").cron
'0 5 * * sat'
>>> jobs_config_from_dict({"schedules": {"nightly": {"cron": "0 1 * * *"}}})
Traceback (most recent call last):
...
shopstream.errors.ConfigError: JobsConfig.schedules names unknown job 'nightly'; jobs are \
['daily-recommendations', 'hot-recommendations', 'retention-cleanup', 'weekly-retrain']
>>> JobSpec(cron="every day")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: JobSpec.cron must be a five-field cron expression, got \
'every day'
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from shopstream.errors import ConfigError, require_positive
from shopstream.jobs.retention import CleanupConfig
from shopstream.privacy.retention import RetentionConfig

__all__ = [
    "JOB_NAMES",
    "BatchRecsConfig",
    "HotRecsConfig",
    "JobSpec",
    "JobsConfig",
    "RetrainConfig",
    "jobs_config_from_dict",
    "load_jobs_config",
    "load_retention_config",
]

HOT: Final = "hot-recommendations"
DAILY: Final = "daily-recommendations"
RETRAIN: Final = "weekly-retrain"
RETENTION: Final = "retention-cleanup"
JOB_NAMES: Final = (HOT, DAILY, RETRAIN, RETENTION)
"""Every job, in the order ``shopstream jobs list`` shows them."""


@dataclass(frozen=True)
class JobSpec:
    """When one job runs and how it retries.

    Parameters
    ----------
    cron
        Five fields: minute hour day-of-month month day-of-week.
    enabled
        Scheduled (a disabled job still runs with ``shopstream jobs run``).
    tries
        Attempts of one run before it is recorded as failed (default 3).
    backoff_s
        Delay before the first retry; each next one doubles it (1, 2, 4... times this).
    """

    cron: str
    enabled: bool = True
    tries: int = 3
    backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.cron, str) or len(self.cron.split()) != 5:
            msg = f"JobSpec.cron must be a five-field cron expression, got {self.cron!r}"
            raise ConfigError(msg)
        if any(c.isdigit() for c in self.cron.split()[4]):
            msg = (f"JobSpec.cron: write the day of the week as names (sun, mon-fri): "
                   f"APScheduler counts 0 as Monday, classic cron as Sunday; got {self.cron!r}")
            raise ConfigError(msg)
        require_positive(self, "tries")
        require_positive(self, "backoff_s", allow_zero=True)

    def delays(self) -> list[float]:
        """The waits between the tries: ``backoff_s * 2**i``.

        >>> JobSpec("* * * * *", tries=4, backoff_s=1.0).delays()
        [1.0, 2.0, 4.0]
        """
        return [float(self.backoff_s) * 2**i for i in range(self.tries - 1)]


_DEFAULT_SCHEDULES: Final = {
    HOT: JobSpec("*/15 * * * *"),
    DAILY: JobSpec("30 2 * * *"),
    RETRAIN: JobSpec("0 3 * * sun"),
    RETENTION: JobSpec("0 4 * * *"),
}


@dataclass(frozen=True)
class HotRecsConfig:
    """Hot recommendations: the shoppers active in the last hour (``window`` ``1hr``) or
    five minutes (``5min``).

    Activity is the sum of a shopper's rolling counts of that window in the store (views,
    category views, cart adds); at most ``max_shoppers`` of the most active are served,
    most active first. Their lists live ``ttl_s`` in the store.
    """

    window: str = "1hr"
    max_shoppers: int = 50_000
    ttl_s: float = 7_200.0

    def __post_init__(self) -> None:
        if self.window not in ("5min", "1hr"):
            msg = f"HotRecsConfig.window must be '5min' or '1hr', got {self.window!r}"
            raise ConfigError(msg)
        require_positive(self, "max_shoppers", "ttl_s")


@dataclass(frozen=True)
class BatchRecsConfig:
    """The daily batch: every shopper the model knows, then up to ``max_new_shoppers``
    seen since its retrain (most recent first, :mod:`shopstream.jobs.new_shoppers`),
    ``batch_size`` at a time (at least 1,000)."""

    batch_size: int = 1_000
    ttl_s: float = 2 * 86_400.0
    max_new_shoppers: int = 100_000

    def __post_init__(self) -> None:
        if self.batch_size < 1_000:
            msg = f"BatchRecsConfig.batch_size must be >= 1000, got {self.batch_size!r}"
            raise ConfigError(msg)
        require_positive(self, "ttl_s", "max_new_shoppers")


@dataclass(frozen=True)
class RetrainConfig:
    """The weekly retrain.

    Parameters
    ----------
    history_days
        Days of history read back from the newest event (bounds the work).
    keep_versions
        Model versions kept in the models directory.
    min_ltv_customers
        Fewer repeat customers than this: the lifetime-value model is not refitted (the
        manifest says so) rather than fitted on noise.
    """

    history_days: int = 90
    keep_versions: int = 4
    min_ltv_customers: int = 20

    def __post_init__(self) -> None:
        require_positive(self, "history_days", "keep_versions", "min_ltv_customers")


@dataclass(frozen=True)
class JobsConfig:
    """Every job's schedule and settings, and where their data lives (see the module)."""

    schedules: dict[str, JobSpec] = field(default_factory=lambda: dict(_DEFAULT_SCHEDULES))
    timezone: str = "UTC"
    hot: HotRecsConfig = field(default_factory=HotRecsConfig)
    batch: BatchRecsConfig = field(default_factory=BatchRecsConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    #: Days kept per lake stream (the privacy work's configuration, section ``retention``).
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    #: Parquet lake (``shopstream run --lake``): history for the retrain, cleaned up.
    lake: str | None = None
    #: JSONL events replayed for the retrain when there is no lake.
    events: str | None = None
    #: Checkpoint directories whose old runs the cleanup removes.
    checkpoint_dirs: tuple[str, ...] = ()
    #: Where trained model versions go (default: beside the store, see ``models_dir``).
    models: str | None = None
    #: Runs kept per job in the run log.
    keep_runs: int = 1_000

    def __post_init__(self) -> None:
        unknown = sorted(set(self.schedules) - set(JOB_NAMES))
        if unknown:
            msg = (f"JobsConfig.schedules names unknown job {unknown[0]!r}; jobs are "
                   f"{sorted(JOB_NAMES)}")
            raise ConfigError(msg)
        object.__setattr__(self, "schedules", {**_DEFAULT_SCHEDULES, **self.schedules})
        object.__setattr__(self, "checkpoint_dirs", tuple(self.checkpoint_dirs))
        require_positive(self, "keep_runs")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except (KeyError, ValueError, OSError):
            msg = f"JobsConfig.timezone is not a known time zone, got {self.timezone!r}"
            raise ConfigError(msg) from None
        from shopstream.jobs.scheduler import cron_trigger

        for spec in self.schedules.values():
            cron_trigger(spec.cron, self.timezone)  # a bad expression fails here, named

    def spec(self, name: str) -> JobSpec:
        """The schedule of job ``name``."""
        found = self.schedules.get(name)
        if found is None:
            msg = f"no job named {name!r}; jobs are {list(JOB_NAMES)}"
            raise ConfigError(msg)
        return found

    def with_sources(self, lake: str | None = None, events: str | None = None,
                     checkpoint_dirs: tuple[str, ...] = ()) -> JobsConfig:
        """This configuration with command-line sources in place of the file's."""
        return replace(self, lake=lake or self.lake, events=events or self.events,
                       checkpoint_dirs=checkpoint_dirs or self.checkpoint_dirs)


_SECTIONS: Final = {"hot": HotRecsConfig, "batch": BatchRecsConfig,
                    "retrain": RetrainConfig, "cleanup": CleanupConfig}


def _build(cls: type[Any], where: str, data: Any) -> Any:
    if not isinstance(data, dict):
        msg = f"{where} must be a table of settings, got {data!r}"
        raise ConfigError(msg)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        msg = f"{where} has unknown setting {unknown[0]!r}; known: {sorted(known)}"
        raise ConfigError(msg)
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except TypeError as exc:
        msg = f"{where}: {exc}"
        raise ConfigError(msg) from None


def jobs_config_from_dict(data: dict[str, Any]) -> JobsConfig:
    """A :class:`JobsConfig` from parsed TOML or JSON (unknown keys are refused)."""
    data = dict(data)
    schedules = data.pop("schedules", {})
    if not isinstance(schedules, dict):
        msg = f"JobsConfig.schedules must be a table of jobs, got {schedules!r}"
        raise ConfigError(msg)
    kwargs: dict[str, Any] = {
        "schedules": {name: _build(JobSpec, f"schedules.{name}",
                                   {"cron": _DEFAULT_SCHEDULES.get(
                                       name, JobSpec("* * * * *")).cron} | spec)
                      if isinstance(spec, dict) else _build(JobSpec, f"schedules.{name}", spec)
                      for name, spec in schedules.items()}}
    for key, cls in _SECTIONS.items():
        if key in data:
            kwargs[key] = _build(cls, key, data.pop(key))
    if "retention" in data:
        section = data.pop("retention")
        if not isinstance(section, dict):
            msg = f"retention must be a table of stream = days, got {section!r}"
            raise ConfigError(msg)
        kwargs["retention"] = RetentionConfig.from_mapping(section)
    return _build(JobsConfig, "JobsConfig", data | kwargs)  # type: ignore[no-any-return]


def load_jobs_config(path: str | Path | None) -> JobsConfig:
    """The configuration in ``path`` (``.toml`` or ``.json``); defaults for ``None``."""
    if path is None:
        return JobsConfig()
    return jobs_config_from_dict(_read_file(path, "the jobs configuration"))


def load_retention_config(path: str | Path) -> RetentionConfig:
    """The ``[retention]`` section of the file ``path`` (``run``/``serve``
    ``--retention-config``): a jobs configuration (the whole file is checked as one, so
    ``--jobs-config`` and ``--retention-config`` may name the same file) that must have
    that section.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "retention.toml"
    >>> _ = path.write_text("[retention]\\nevents = 30\\nstore = 7\\n")
    >>> config = load_retention_config(path)
    >>> config.days_for("events"), config.store_days
    (30, 7)
    >>> _ = path.write_text("[hot]\\nmax_shoppers = 10\\n")
    >>> load_retention_config(path)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: the retention configuration '...' has no [retention] \
section (stream = days, plus default and store)
    """
    data = _read_file(path, "the retention configuration")
    if "retention" not in data:
        msg = (f"the retention configuration {str(path)!r} has no [retention] section "
               "(stream = days, plus default and store)")
        raise ConfigError(msg)
    return jobs_config_from_dict(data).retention


def _read_file(path: str | Path, what: str) -> dict[str, Any]:
    """The table in the TOML or JSON file ``path`` (``what`` names it in errors)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read {what} {str(path)!r}: {exc.strerror}"
        raise ConfigError(msg) from None
    try:
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if file.suffix == ".json" else "TOML"
        msg = f"{what} {str(path)!r} is not valid {kind}: {exc}"
        raise ConfigError(msg) from None
    if not isinstance(data, dict):
        msg = f"{what} {str(path)!r} must hold a table, got {type(data).__name__}"
        raise ConfigError(msg)
    return data
