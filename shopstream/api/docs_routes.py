"""The API's own documentation, offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc``.

FastAPI's default pages load their scripts from a CDN and stay blank without internet.
These pages load them from the server itself: the assets come from the
``fastapi-offline`` wheel (part of the ``serve`` extra), served at
:data:`ASSET_PATHS` (public, like the pages: see :mod:`shopstream.api.security`).
Build the app with ``docs_url=None, redoc_url=None`` and include :func:`docs_router`.

Examples
--------
>>> [route.path for route in docs_router("shop", "/openapi.json").routes]
['/docs', '/docs/oauth2-redirect', '/redoc', '/docs/swagger-ui-bundle.js', \
'/docs/swagger-ui.css', '/docs/favicon.png', '/redoc/redoc.standalone.js']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from shopstream.errors import require

try:
    import fastapi
    from fastapi import Request
    from fastapi.openapi.docs import (
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
    )
    from fastapi.responses import FileResponse, HTMLResponse
except ImportError:  # pragma: no cover - depends on the installation
    require("fastapi", "shopstream[serve]")
    raise

__all__ = ["ASSET_PATHS", "DOCS_PATH", "OAUTH2_REDIRECT_PATH", "REDOC_PATH", "docs_router"]

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"

#: URL path -> (file in fastapi-offline's ``static`` folder, media type).
ASSET_PATHS: dict[str, tuple[str, str]] = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript"),
    "/docs/swagger-ui.css": ("swagger-ui.css", "text/css"),
    "/docs/favicon.png": ("favicon.png", "image/png"),
    "/redoc/redoc.standalone.js": ("redoc.standalone.js", "text/javascript"),
}

# The assets change only with the installed package: let browsers keep them a day.
_CACHE = {"Cache-Control": "public, max-age=86400"}


def asset_directory() -> Path:
    """The folder of the Swagger UI and ReDoc assets inside the installed package."""
    require("fastapi_offline", "shopstream[serve]")
    return Path(str(resources.files("fastapi_offline") / "static"))


def docs_router(title: str, openapi_url: str) -> Any:
    """Routes of the two documentation pages and their assets, for ``app.title`` and
    ``app.openapi_url``."""
    static = asset_directory()
    router = fastapi.APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}/docs/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}")

    @router.get(OAUTH2_REDIRECT_PATH)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(REDOC_PATH)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}", title=f"{title} - ReDoc",
            redoc_js_url=f"{root}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}/docs/favicon.png", with_google_fonts=False)

    for path, (name, media_type) in ASSET_PATHS.items():
        router.add_api_route(path, _asset(static / name, media_type), methods=["GET"])
    return router


def _asset(file: Path, media_type: str) -> Any:
    async def serve() -> FileResponse:
        return FileResponse(file, media_type=media_type, headers=_CACHE)
    return serve
