"""``GET /users/{id}/profile`` and ``GET /segments`` through the real app (uvicorn on a free
port of 127.0.0.1), over a store the real pipeline (profile stages and the store tap)
wrote; reads behind API keys when ``read_keys`` is on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import ev

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.events import Item, ShopperEvent
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.stores.open import open_store
from shopstream.stores.tap import StoreTap

KEY = "profiles-key-0123456789"
DAY = 86_400_000
T0 = 1_700_006_400_000


def _events() -> list[ShopperEvent]:
    items = (Item("p1", category="Toys", price=40.0),)
    events = [
        ev("VIEW_PRODUCT", T0, "s1", product_id="p1", category="Toys", price=40.0),
        ev("PURCHASE", T0 + 60_000, "s1", user_id="alice", order_id="o1", items=items),
        ev("VIEW_PRODUCT", T0 + 120_000, "s2", user_id="bob", product_id="p1"),
        ev("ADD_TO_CART", T0 + 130_000, "s2", user_id="bob", product_id="p1", price=40.0),
        # A day later: alice buys again, so the segment counts have a day of history.
        ev("VIEW_PRODUCT", T0 + DAY + 3_600_000, "s3", user_id="alice", product_id="p1"),
        ev("PURCHASE", T0 + DAY + 3_700_000, "s3", user_id="alice", order_id="o2",
           items=items),
        ev("PAGE_VIEW", T0 + DAY + 3_800_000, "s4", user_id="carol"),
        # Moves the watermark past the events above (the store is read live, not after
        # the end of input, which would end every session and drop every profile).
        ev("PAGE_VIEW", T0 + DAY + 4_000_000, "s5", user_id="dave"),
    ]
    return events


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("profiles-api")
    path = str(work / "features.db")
    store = open_store(path)
    tap = StoreTap(store)
    topology = default_topology(PipelineConfig(recommendations=None,
                                               profiles=ProfilesConfig(segment_groups=1)))
    engine = Engine(topology, 5_000,
                    lambda out: tap.write(out) if out.stream in tap.streams else None)
    for event in _events():
        engine.offer(event)
    engine.drain()
    tap.close()
    store.close()
    return path


def _serve(store: str, **options: Any) -> Iterator[httpx.Client]:
    server = BackgroundServer(ServeConfig(store=store, port=0, **options))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(store_path: str) -> Iterator[httpx.Client]:
    yield from _serve(store_path)


def test_profile_of_a_shopper_who_logged_in_at_checkout(client: httpx.Client) -> None:
    answer = client.get("/users/alice/profile")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["userId"], body["orders"], body["revenue"], body["mergedSessions"]) == (
        "alice", 2, 80.0, 1)
    # Both purchase sessions were short (60 s and 100 s) with one view per order.
    assert body["segment"] == "impulse_buyer"
    assert 0.0 <= body["engagement"] <= 1.0
    assert body["lifetime"]["model"] == "default"
    assert body["preferences"]["category"][0][0] == "Toys"
    assert [a["action"] for a in body["actions"]] == ["cross-sell from the last order"]


def test_a_shopper_with_a_cart_is_offered_to_complete_it(client: httpx.Client) -> None:
    body = client.get("/users/bob/profile").json()
    assert (body["cartItems"], body["cartValue"], body["lifetime"]) == (1, 40.0, None)
    assert body["actions"][0]["action"] == "complete the cart with offer"


def test_unknown_shopper_is_404_with_the_key_named(client: httpx.Client) -> None:
    answer = client.get("/users/nobody/profile")
    assert answer.status_code == 404
    assert "profile:user:nobody" in answer.json()["detail"]


def test_segments_give_the_counts_and_their_change_over_a_day(
        client: httpx.Client) -> None:
    body = client.get("/segments").json()
    zero = dict.fromkeys(["loyal_customer", "price_sensitive", "impulse_buyer", "researcher",
                          "buyer", "browser"], 0)
    # Now (the slot of carol's page view): alice impulse buyer, bob and carol browsers.
    assert body["counts"] == zero | {"impulse_buyer": 1, "browser": 2}
    assert body["total"] == 3
    assert body["shares"]["browser"] == 0.6667
    # A day earlier (the hour of T0, last counts in it): alice and bob.
    assert body["dayAgo"] == zero | {"impulse_buyer": 1, "browser": 1}
    assert body["change"] == zero | {"browser": 1}


def test_segments_before_any_count_is_404(tmp_path: Path) -> None:
    for empty in _serve(str(tmp_path / "empty.db")):
        assert empty.get("/segments").status_code == 404


def test_reads_need_a_key_when_read_keys_is_on(store_path: str) -> None:
    for keyed in _serve(store_path, api_keys=(KEY,), read_keys=True):
        assert keyed.get("/users/alice/profile").status_code == 401
        assert keyed.get("/segments").status_code == 401
        ok = keyed.get("/users/alice/profile", headers={"X-API-Key": KEY})
        assert ok.status_code == 200


def test_both_routes_are_in_the_openapi_docs(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/users/{user_id}/profile", "/segments"} <= set(paths)
