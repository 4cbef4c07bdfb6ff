"""The dashboard at ``/`` (:mod:`shopstream.api.live_dashboard`) in a real browser:
Debian's chromium driven by Playwright (never ``playwright install``: the system browser is
the one the project's ``make setup`` installs), against uvicorn on a free port of
127.0.0.1 hosting the pipeline."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopstream.api.server import BackgroundServer, ServeConfig

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
CHARTS = ["chart-revenue", "chart-trending", "chart-top", "chart-health"]
TABLES = ["table-fraud", "table-abandoned", "table-recommendations", "table-activity",
          "table-rules"]


def _shop_history(now_ms: int) -> list[dict[str, Any]]:
    """Twenty minutes of a small shop, ending half a minute ago at the latest: a cart left
    behind (armed at 150), an order above the fraud limit, a second order, views in the
    last minutes. Nothing is ahead of the clock, so an event stamped now is never late."""
    t0 = now_ms // 60_000 * 60_000 - 21 * 60_000

    def event(kind: str, seconds: float, session: str, user: str,
              **fields: Any) -> dict[str, Any]:
        return {"eventType": kind, "timestamp": t0 + int(seconds * 1000),
                "sessionId": session, "userId": user, **fields}

    return [
        event("VIEW_PRODUCT", 1, "s-ann", "ann", productId="p1", price=150.0),
        event("ADD_TO_CART", 5, "s-ann", "ann", productId="p1", price=150.0, quantity=1),
        event("VIEW_PRODUCT", 10, "s-bob", "bob", productId="p1", price=150.0),
        event("VIEW_PRODUCT", 12, "s-bob", "bob", productId="p2", price=900.0),
        event("ADD_TO_CART", 14, "s-bob", "bob", productId="p2", price=900.0, quantity=2),
        event("PURCHASE", 20, "s-bob", "bob", orderId="o1", cartTotal=1800.0,
              items=[{"productId": "p2", "price": 900.0, "quantity": 2}]),
        event("VIEW_PRODUCT", 70, "s-cy", "cy", productId="p2", price=900.0),
        event("PURCHASE", 130, "s-cy", "cy", orderId="o2", cartTotal=900.0,
              items=[{"productId": "p2", "price": 900.0}]),
        # The rules stage publishes after 1,000 baskets: half of them p1 with p3 (the rule
        # p1 -> p3, lift 2), half p4 alone, one order every 0.6 s from minute 4 on.
        *(event("PURCHASE", 240 + n * 0.6, f"s-b{n}", f"b{n}", orderId=f"b{n}",
                cartTotal=160.0 if n % 2 else 5.0,
                items=[{"productId": "p1", "price": 150.0}, {"productId": "p3", "price": 10.0}]
                if n % 2 else [{"productId": "p4", "price": 5.0}])
          for n in range(1_000)),
        event("VIEW_PRODUCT", 18 * 60 + 10, "s-dan", "dan", productId="p3", price=10.0),
        event("VIEW_PRODUCT", 18 * 60 + 20, "s-dan", "dan", productId="p1", price=150.0),
        event("VIEW_PRODUCT", 19 * 60 + 50, "s-eve", "eve", productId="p2", price=900.0),
        # The watermark passes the cart's 15 minute timeout and closes the minutes above.
        event("VIEW_PRODUCT", 20 * 60 + 30, "s-eve", "eve", productId="p3", price=10.0),
    ]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BackgroundServer]:
    running = BackgroundServer(ServeConfig(store=str(tmp_path / "features.db"), port=0,
                                           out_of_orderness_ms=0, idle_ms=20))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is missing: run `make setup` (installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _points(page: Any, chart: str) -> int:
    """How many data points the plotly chart ``chart`` draws."""
    count: int = page.evaluate(
        "id => (document.getElementById(id).data || [])"
        ".reduce((n, trace) => n + ((trace.x || []).length), 0)", chart)
    return count


def _rows(page: Any, table: str) -> list[str]:
    rows: list[str] = page.evaluate(
        "id => Array.from(document.getElementById(id).rows).slice(1)"
        ".filter(r => !r.querySelector('.empty')).map(r => r.innerText)", table)
    return rows


def test_dashboard_draws_every_panel_and_follows_posted_events(
        server: BackgroundServer, browser: Any, tmp_path: Path) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        history = _shop_history(int(time.time() * 1000))
        assert client.post("/events", json=history).status_code == 202

        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/")
        page.wait_for_function("() => document.getElementById('status').textContent"
                               " === 'live'", timeout=10_000)

        deadline = time.monotonic() + 10
        while True:
            empty = [c for c in CHARTS if _points(page, c) == 0]
            empty += [t for t in TABLES if not _rows(page, t)]
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not empty, f"panels without data: {empty}"
        assert any("HIGH_VALUE" in row for row in _rows(page, "table-fraud"))
        assert any("s-ann" in row for row in _rows(page, "table-abandoned"))
        assert int(page.inner_text("#kpi-rules")) > 0
        assert any(row.startswith("p1\tp3") for row in _rows(page, "table-rules"))
        assert page.inner_text("#kpi-checkpoint") == "off"  # this server keeps no checkpoints

        # A shopper arriving now: the recommendations after her view are on the page at once.
        now_ms = int(time.time() * 1000)
        posted = time.monotonic()
        answer = client.post("/events", json={
            "eventType": "VIEW_PRODUCT", "timestamp": now_ms, "sessionId": "s-live-zoe",
            "userId": "zoe", "productId": "p2", "price": 900.0})
        assert answer.status_code == 202
        page.wait_for_function(
            "() => document.getElementById('table-recommendations').innerText"
            ".includes('s-live-zoe')", timeout=2_000)
        assert time.monotonic() - posted < 2.0
        assert page.inner_text("#kpi-events") == str(len(history) + 1)

        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        assert errors == [], f"console errors: {errors}"


def test_health_shows_the_age_of_the_last_checkpoint(tmp_path: Path) -> None:
    running = BackgroundServer(ServeConfig(store=str(tmp_path / "features.db"), port=0,
                                           checkpoint_dir=str(tmp_path / "ck"),
                                           checkpoint_every=1))
    running.start()
    try:
        with httpx.Client(base_url=running.url, timeout=5) as client:
            assert client.post("/events", json={
                "eventType": "VIEW_PRODUCT", "timestamp": int(time.time() * 1000),
                "sessionId": "s1", "userId": "u1", "productId": "p1"}).status_code == 202
            deadline = time.monotonic() + 10
            health = client.get("/dashboard/data").json()["health"]
            while health["checkpointAgeSeconds"] is None and time.monotonic() < deadline:
                time.sleep(0.05)
                health = client.get("/dashboard/data").json()["health"]
            assert health["checkpoints"] is True
            assert 0 <= health["checkpointAgeSeconds"] < 10
    finally:
        running.stop()
