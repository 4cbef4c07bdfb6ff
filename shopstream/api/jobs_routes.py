"""The scheduled jobs over HTTP: ``GET /jobs`` and ``GET /jobs/{name}``.

``GET /jobs`` answers ``{"jobs": [...]}``, one object per job: ``name``, ``cron``,
``timezone``, ``enabled``, ``scheduled`` (a scheduler recorded this schedule in the run
log; else the built-in one is shown), ``nextRun`` (ISO time, from the cron expression at
the time of the request), ``lastRun`` and ``lastFailure`` (start and end in epoch ms,
outcome, tries, counts, error), and ``runs``, ``failures``, ``skipped`` and
``consecutiveFailures`` over the run log. ``GET /jobs/{name}`` adds the latest
``?limit=N`` runs (1-200, default 20). Both read the run log beside the served store
(:func:`~shopstream.jobs.runlog.run_log_path`) in a worker thread, so they answer the
same whichever process runs the jobs (``shopstream serve`` itself or ``shopstream jobs``).

Examples
--------
>>> [route.path for route in jobs_router("/tmp/f.db").routes]
['/jobs', '/jobs/{name}']
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.errors import require

try:
    import fastapi
    from fastapi import Query
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["jobs_router"]

_encode = msgspec.json.Encoder().encode


def _status(store_url: str, name: str | None, limit: int) -> dict[str, Any]:
    from shopstream.jobs.config import JobsConfig
    from shopstream.jobs.runlog import RunLog, run_log_path
    from shopstream.jobs.service import jobs_status

    log = RunLog(run_log_path(store_url))
    try:
        jobs = jobs_status(log, JobsConfig())
        if name is None:
            return {"jobs": jobs}
        job = next(j for j in jobs if j["name"] == name)
        return job | {"recentRuns": [r.to_json() for r in log.runs(name, limit)]}
    finally:
        log.close()


def jobs_router(store_url: str) -> Any:
    """The routes over the run log of the store at ``store_url``."""
    from shopstream.jobs.config import JOB_NAMES
    from shopstream.jobs.errors import JobError

    router = fastapi.APIRouter(tags=["jobs"])

    async def answer(name: str | None, limit: int) -> Response:
        try:
            body = await run_in_threadpool(_status, store_url, name, limit)
        except JobError as exc:
            raise fastapi.HTTPException(503, f"job run log unavailable: {exc}") from None
        return Response(_encode(body), media_type="application/json")

    @router.get("/jobs", summary="Scheduled jobs: schedules, next and last runs, failures")
    async def jobs() -> Response:
        return await answer(None, 0)

    @router.get("/jobs/{name}", summary="One scheduled job and its latest runs")
    async def job(name: str, limit: int = Query(20, ge=1, le=200)) -> Response:
        if name not in JOB_NAMES:
            raise fastapi.HTTPException(404, f"no job named {name!r}; jobs are "
                                             f"{list(JOB_NAMES)}")
        return await answer(name, limit)

    return router
