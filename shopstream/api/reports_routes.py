"""The named reports of the lake over HTTP: ``GET /reports/{name}``.

``name`` is ``customers``, ``products`` or ``revenue`` (the SQL of ``shopstream report``);
``?source=events`` (default) reads the completed baskets of ``run --lake``,
``?source=shop`` the shop tables copied by ``lake export``; ``?limit=N`` (1-10,000,
default 1,000) caps the rows. The answer is ``{"report", "source", "columns", "rows",
"truncated"}`` with one object per row; money is a JSON number, months and dates ISO
strings. The server needs a lake (``shopstream serve --lake DIR``, or ``s3://BUCKET/PREFIX``
read through its commit log as ``shopstream report`` reads it), else 503; a shop
report on a lake never exported (or on S3) is 404 with what to do. Each request opens its
own in-memory DuckDB over the lake's files (cost: one scan of the report's tables), in a
worker thread so the event loop keeps serving.

Examples
--------
>>> [route.path for route in reports_router(None).routes]
['/reports', '/reports/{name}']
>>> jsonable(__import__("decimal").Decimal("12.50"))
12.5
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from shopstream.errors import require
from shopstream.redaction import redact

try:
    import fastapi
    from fastapi import Query
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["jsonable", "reports_router"]

_NAMES = ("customers", "products", "revenue")
_MAX_ROWS = 10_000
_encode = msgspec.json.Encoder().encode


def jsonable(value: Any) -> Any:
    """A report cell as JSON: decimals as numbers, dates and times as ISO strings."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _run(lake: str, name: str, source: str, limit: int) -> dict[str, Any]:
    from shopstream.lake.errors import LakeError
    from shopstream.lake.export import read_state
    from shopstream.lake.object_store import is_s3_url
    from shopstream.lake.query import query, report_sql
    from shopstream.lake.shop import shop_report_sql

    on_s3 = is_s3_url(lake)  # read through its commit log by lake.query, like `report`
    if not on_s3 and not Path(lake).is_dir():
        raise fastapi.HTTPException(503, redact(f"the lake directory {lake!r} does not exist "
                                                "yet"))
    if source == "shop" and on_s3:
        raise fastapi.HTTPException(404, redact(f"the lake {lake!r} has no shop tables: "
                                                "`lake export` writes them to a local lake "
                                                "directory"))
    if source == "shop" and not read_state(lake)["tables"]:
        raise fastapi.HTTPException(404, redact("the lake has no shop tables: run `shopstream "
                                                f"lake export --postgres DSN --lake {lake}`"))
    sql = shop_report_sql(name) if source == "shop" else report_sql(name)
    try:
        columns, rows = query(lake, f"{sql}\n        LIMIT {limit + 1}")
    except LakeError as exc:
        raise fastapi.HTTPException(500, redact(f"report {name!r}: {exc}")) from None
    return {"report": name, "source": source, "columns": columns,
            "rows": [{c: jsonable(v) for c, v in zip(columns, row, strict=True)}
                     for row in rows[:limit]],
            "truncated": len(rows) > limit}


def reports_router(lake: str | None) -> fastapi.APIRouter:
    """The ``/reports`` routes over the lake at ``lake`` (``None``: answer 503)."""
    router = fastapi.APIRouter(tags=["reports"])

    def need_lake() -> str:
        if lake is None:
            raise fastapi.HTTPException(503, "this server has no lake: start it with "
                                             "`shopstream serve --lake DIR|s3://BUCKET/PREFIX`")
        return lake

    @router.get("/reports", summary="the named reports")
    async def names() -> Response:
        return Response(_encode({"reports": list(_NAMES), "sources": ["events", "shop"],
                                 "lake": lake is not None}),
                        media_type="application/json")

    @router.get("/reports/{name}", summary="one named report over the lake")
    async def report(name: Literal["customers", "products", "revenue"],
                     source: Literal["events", "shop"] = Query(
                         "events", description="events: run --lake; shop: lake export"),
                     limit: int = Query(1_000, ge=1, le=_MAX_ROWS,
                                        description="at most this many rows")) -> Response:
        body = await run_in_threadpool(_run, need_lake(), name, source, limit)
        return Response(_encode(body), media_type="application/json")

    return router
