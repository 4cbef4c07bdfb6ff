"""``GET /products/{id}/trend`` and ``GET /categories/{name}/trend`` through a real HTTP
client against uvicorn on 127.0.0.1, with the embedded store and the hosted pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopstream.api.server import BackgroundServer, ServeConfig

T0 = 1_700_006_400_000  # 2023-11-15 00:00 UTC
HOUR = 3_600_000


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "features.db"), port=0,
                                          out_of_orderness_ms=0, idle_ms=20))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            yield http
    finally:
        server.stop()


def _event(kind: str, ts: int, **fields: Any) -> dict[str, Any]:
    return {"eventType": kind, "timestamp": ts, "sessionId": f"s{ts}", "userId": "u1",
            **fields}


def test_trend_of_a_product_and_its_category(client: httpx.Client) -> None:
    missing = client.get("/products/p1/trend")
    assert missing.status_code == 404
    assert "trend:product:p1" in missing.json()["detail"]
    events = [_event("VIEW_PRODUCT", T0 + 60_000, productId="p1", category="Books"),
              _event("ADD_TO_CART", T0 + 120_000, productId="p1", category="Books"),
              # An event 7 hours on moves the watermark past the first 6-hour period.
              _event("VIEW_PRODUCT", T0 + 7 * HOUR, productId="p2")]
    assert client.post("/events", json=events).status_code == 202
    deadline = time.monotonic() + 10
    answer = client.get("/products/p1/trend")
    while answer.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = client.get("/products/p1/trend")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["entity"], body["entityId"], body["windowEnd"]) == ("product", "p1", T0 + 6 * HOUR)
    assert (body["views"], body["adds"], body["purchases"]) == (1, 1, 0)
    # One hour of data is too little to judge: stable, with no confidence.
    assert (body["label"], body["direction"], body["confidence"]) == ("stable", "flat", 0.0)
    assert {"strength", "velocity", "acceleration", "level", "change"} <= set(body)
    category = client.get("/categories/Books/trend")
    assert category.status_code == 200 and category.json()["entity"] == "category"
    assert client.get("/categories/Nothing/trend").status_code == 404
