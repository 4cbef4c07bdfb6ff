"""``shopstream jobs``: the scheduled jobs (hot recommendations, daily batch, weekly
retrain, retention cleanup): run the scheduler in the foreground, list the jobs and their
schedules, or run one job once.

``shopstream serve`` runs the same scheduler beside its pipeline (``--no-jobs`` turns it
off); this command is for a store written by ``shopstream run`` or another server.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["register"]


def _sources(parser: argparse.ArgumentParser, sub: bool) -> None:
    # On the sub-commands the options must not reset what was given before them.
    default: Any = argparse.SUPPRESS if sub else None
    parser.add_argument("--store", default=default, metavar="PATH|redis://HOST:PORT",
                        help="the store the jobs read and write (the run log lives beside "
                             "it)")
    parser.add_argument("--jobs-config", default=default, metavar="FILE",
                        help="schedules and settings, TOML or JSON (see docs/jobs.md); "
                             "default: the built-in schedules")
    parser.add_argument("--lake", default=default, metavar="DIR",
                        help="the Parquet lake: history for the retrain, and cleaned up")
    parser.add_argument("--events", default=default, metavar="FILE",
                        help="JSONL events replayed for the retrain when there is no lake")
    parser.add_argument("--checkpoint-dir", action="append",
                        default=argparse.SUPPRESS if sub else [], metavar="DIR",
                        help="checkpoint directory whose old runs the cleanup removes "
                             "(repeatable)")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "jobs", help="scheduled jobs: recommendations, retrain, retention cleanup",
        description="Without an action: run the job scheduler in the foreground until "
                    "interrupted. `jobs list` shows each job, its schedule, next and last "
                    "run; `jobs run NAME` runs one job once (with its retries).")
    _sources(parser, sub=False)
    parser.set_defaults(func=_foreground)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the jobs, their schedules, next and last runs")
    _sources(listing, sub=True)
    listing.add_argument("--json", action="store_true", help="print the status as JSON")
    listing.set_defaults(func=_list)
    once = actions.add_parser("run", help="run one job now, once")
    once.add_argument("name", metavar="NAME", help="hot-recommendations, "
                      "daily-recommendations, weekly-retrain or retention-cleanup")
    _sources(once, sub=True)
    once.set_defaults(func=_run)


def _config(args: argparse.Namespace) -> Any:
    from shopstream.jobs.config import load_jobs_config

    if not args.store:
        msg = "--store is required (the store the jobs read and write)"
        raise ConfigError(msg)
    return load_jobs_config(args.jobs_config).with_sources(
        args.lake, args.events, tuple(args.checkpoint_dir or ()))


def _list(args: argparse.Namespace) -> int:
    from shopstream.jobs.runlog import RunLog, run_log_path
    from shopstream.jobs.service import jobs_status

    config = _config(args)
    log = RunLog(run_log_path(args.store), config.keep_runs)
    try:
        status = jobs_status(log, config)
    finally:
        log.close()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"{'JOB':<23} {'SCHEDULE':<14} {'NEXT RUN (UTC)':<17} {'LAST RUN':<28} "
          f"{'FAILED':>6} {'SKIPPED':>7}")
    for job in status:
        nxt = _utc(job["nextRun"]) if job["nextRun"] else "disabled"
        last = job["lastRun"]
        done = (f"{last['outcome']} {_utc_ms(last['startedMs'])}" if last else "never")
        print(f"{job['name']:<23} {job['cron']:<14} {nxt:<17} {done:<28} "
              f"{job['failures']:>6} {job['skipped']:>7}")
    return 0


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _utc_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _run(args: argparse.Namespace) -> int:
    from shopstream.jobs.config import JOB_NAMES
    from shopstream.jobs.service import JobsService
    from shopstream.stores.open import open_store

    if args.name not in JOB_NAMES:
        msg = f"no job named {args.name!r}; jobs are {', '.join(JOB_NAMES)}"
        raise ConfigError(msg)
    config = _config(args)
    store = open_store(args.store)
    try:
        service = JobsService(store, config)
        try:
            record = service.runner.run(args.name, "manual")
        finally:
            service.stop()
    finally:
        store.close()
    print(json.dumps(record.to_json()))
    if record.outcome != "ok":
        print(f"shopstream jobs: {args.name} {record.outcome}: {record.error}",
              file=sys.stderr)
        return 1
    return 0


def _foreground(args: argparse.Namespace) -> int:
    from shopstream.jobs.service import JobsService
    from shopstream.stores.open import open_store, redact_url

    config = _config(args)
    store = open_store(args.store)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service = JobsService(store, config)
    try:
        service.start()
        print(f"shopstream jobs: scheduler running over {redact_url(store.url)} "
              f"(Ctrl-C stops it)", flush=True)
        for job in service.status():
            when = _utc(job["nextRun"]) if job["nextRun"] else "disabled"
            print(f"  {job['name']:<23} {job['cron']:<14} next {when} UTC", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        service.stop()
        store.close()
    return 0
