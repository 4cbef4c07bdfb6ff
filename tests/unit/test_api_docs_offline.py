"""/docs and /redoc work without internet (issue 19): their pages reference only assets
the server itself serves, from an installed package, and those assets answer 200; with
--read-keys they stay public. Against uvicorn on a free port of 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopstream.api.docs_routes import ASSET_PATHS, asset_directory
from shopstream.api.security import _PUBLIC
from shopstream.api.server import BackgroundServer, ServeConfig

KEY = "test-key-0123456789abcdef"
# src=, href= and spec-url= attributes, and Swagger UI's `url: '...'` option.
_REFERENCE = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _server(tmp: Path, **options: Any) -> BackgroundServer:
    server = BackgroundServer(ServeConfig(store=str(tmp / "features.db"), port=0, **options))
    server.start()
    return server


@pytest.fixture(scope="module", params=["open", "read-keys"])
def client(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    options: dict[str, Any] = ({"api_keys": (KEY,), "read_keys": True}
                               if request.param == "read-keys" else {})
    server = _server(tmp_path_factory.mktemp(request.param), **options)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_reference_only_local_assets_that_are_served(
        client: httpx.Client, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html
    refs = _references(html)
    assert "/openapi.json" in refs
    scripts = [r for r in refs if r.endswith((".js", ".css", ".png"))]
    assert scripts, html
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{page} loads {ref}"
        served = client.get(ref)
        assert served.status_code == 200, ref
        assert len(served.content) > 0
    assert client.get("/openapi.json").json()["info"]["title"] == "shopstream"


def test_assets_are_the_installed_packages_files(client: httpx.Client) -> None:
    for path, (name, media_type) in ASSET_PATHS.items():
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(media_type)
        assert answer.content == (asset_directory() / name).read_bytes()
    assert len(client.get("/docs/swagger-ui-bundle.js").content) > 100_000


def test_asset_paths_are_public_like_the_pages() -> None:
    assert set(ASSET_PATHS) <= _PUBLIC


def test_other_reads_still_need_a_key_with_read_keys(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    server = _server(tmp_path_factory.mktemp("keys"), api_keys=(KEY,), read_keys=True)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/trending").status_code == 401
            assert http.get("/docs/swagger-ui.css").status_code == 200
    finally:
        server.stop()
