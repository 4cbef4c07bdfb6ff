"""The API through a real HTTP client and a real WebSocket client, against uvicorn
listening on a free port of 127.0.0.1 with the embedded store (and Redis, marked)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.stores import StoreEntry

T0 = 1_699_999_980_000   # a 30 s slot boundary


def _event(kind: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"eventType": kind, "timestamp": T0 + int(seconds * 1000), "sessionId": "s1",
            "userId": "alice", **fields}


ALICE = [
    _event("VIEW_PRODUCT", 5, productId="p1", category="Books", price=20.0, device="mobile",
           platform="ios", country="DE", region="BE"),
    _event("ADD_TO_CART", 10, productId="p1", category="Books", price=20.0),
    # At a slot end, with no disorder allowed: the slot closes as soon as the server idles.
    _event("PURCHASE", 30, orderId="o1", cartTotal=20.0),
]


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.integration)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackgroundServer]:
    store = (str(tmp_path / "features.db") if request.param == "embedded"
             else request.getfixturevalue("redis_url"))
    running = BackgroundServer(ServeConfig(store=store, port=0, out_of_orderness_ms=0,
                                           idle_ms=20))
    running.start()
    if request.param == "redis":
        running.state.store.delete(["user:alice:orders_count_24hr"])
    yield running
    running.stop()


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http


def _until(probe: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_unknown_ids_get_404_with_a_clear_body(client: httpx.Client) -> None:
    for path, words in [("/users/nobody/features", "no features stored for user 'nobody'"),
                        ("/sessions/s0/features", "no features stored for session 's0'"),
                        ("/sessions/s0/recommendations", "recs:session:s0"),
                        ("/products/p0/related", "related:product:p0"),
                        ("/trending", "trending:products"),
                        ("/rules?antecedent=b,a", "rules:antecedent:a|b")]:
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert words in answer.json()["detail"], path


def test_posted_events_become_features_in_the_store(client: httpx.Client) -> None:
    posted = client.post("/events", json=ALICE)
    assert posted.status_code == 202 and posted.json() == {"accepted": 3}

    def orders() -> dict[str, Any] | None:
        answer = client.get("/users/alice/features")
        body: dict[str, Any] = answer.json()
        ready = answer.status_code == 200 and body["features"]["orders_count_24hr"] == 1
        return body["features"] if ready else None

    features = _until(orders)
    assert features is not None, "features never reached the store"
    assert {k: features[k] for k in (
        "product_view_count_5min", "cart_add_count_5min", "cart_value_5min",
        "avg_viewed_price_5min", "price_range_viewed_1hr", "orders_count_24hr",
        "order_value_24hr", "avg_order_value_24hr", "top_category_24hr",
        "unique_categories_24hr", "locations", "device_types", "latest_platform",
        "region_changes")} == {
        "product_view_count_5min": 1, "cart_add_count_5min": 1, "cart_value_5min": 20.0,
        "avg_viewed_price_5min": 20.0, "price_range_viewed_1hr": 0.0,
        "orders_count_24hr": 1, "order_value_24hr": 20.0, "avg_order_value_24hr": 20.0,
        "top_category_24hr": "Books", "unique_categories_24hr": 1, "locations": ["DE/BE"],
        "device_types": ["mobile"], "latest_platform": "ios", "region_changes": 0}
    session = client.get("/sessions/s1/features")
    assert session.status_code == 200
    assert session.json()["features"] == {
        "session_duration": 25.0, "session_page_count": 1, "session_bounce": False,
        "session_cart_ratio": 1.0, "session_search_count": 0}
    metrics = client.get("/metrics").text
    assert "shopstream_events_processed_total 3" in metrics
    assert "shopstream_store_write_seconds_count 0" not in metrics


def test_one_event_may_be_posted_alone(client: httpx.Client) -> None:
    answer = client.post("/events", json=ALICE[0])
    assert answer.status_code == 202 and answer.json() == {"accepted": 1}


def test_invalid_events_are_refused_all_together_with_reasons(client: httpx.Client) -> None:
    batch = [ALICE[0], {**ALICE[0], "eventType": "TELEPORT"},
             {"eventType": "ADD_TO_CART", "sessionId": "s1", "timestamp": T0}]
    answer = client.post("/events", json=batch)
    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"] == "2 of 3 events are invalid; none was accepted"
    assert [(e["index"], e["stage"]) for e in body["errors"]] == [(1, "decode"),
                                                                  (2, "validate")]
    assert "TELEPORT" in body["errors"][0]["reason"]
    assert body["errors"][1]["reason"] == "ADD_TO_CART needs a productId"
    assert client.post("/events", content=b"{nope",
                       headers={"Content-Type": "application/json"}).status_code == 400
    metrics = client.get("/metrics").text
    assert "shopstream_dead_letters_total 2" in metrics
    assert "shopstream_events_processed_total 0" in metrics


def test_store_backed_endpoints_serve_what_the_store_holds(server: BackgroundServer,
                                                           client: httpx.Client) -> None:
    server.state.store.write_batch([
        StoreEntry("recs:session:s9", [{"productId": "p2", "score": 0.5}], 60.0),
        StoreEntry("related:product:p1", ["p2", "p3"], 60.0),
        StoreEntry("trending:products", [{"productId": "p1", "count": 9}], 60.0),
        StoreEntry("rules:antecedent:a|b", [{"consequent": "c", "confidence": 0.5}], 60.0)])
    assert client.get("/sessions/s9/recommendations").json() == {
        "sessionId": "s9", "recommendations": [{"productId": "p2", "score": 0.5}]}
    assert client.get("/products/p1/related").json()["related"] == ["p2", "p3"]
    assert client.get("/trending").json()["trending"][0]["count"] == 9
    assert client.get("/rules", params={"antecedent": "b, a"}).json()["antecedent"] == [
        "a", "b"]
    assert client.get("/rules").status_code == 422


def test_health_metrics_and_docs(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["pipeline"]["errors"] == 0
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in ("shopstream_events_processed_total", "shopstream_dead_letters_total",
                 "shopstream_late_events_total", "shopstream_store_write_seconds_bucket"):
        assert f"\n{name}" in "\n" + metrics.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/users/{user_id}/features", "/sessions/{session_id}/recommendations",
            "/products/{product_id}/related", "/trending", "/rules", "/health", "/metrics",
            "/events"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_websocket_pushes_what_a_client_subscribed_to(server: BackgroundServer,
                                                      client: httpx.Client) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/ws"
    with connect(ws_url, open_timeout=5) as socket:
        socket.send(json.dumps({"subscribe": {"session": "s1"}}))
        assert json.loads(socket.recv(timeout=5)) == {"subscribed": {"session": "s1"}}
        socket.send(json.dumps({"subscribe": {"planet": "mars"}}))
        assert "error" in json.loads(socket.recv(timeout=5))
        socket.send("not json")
        assert "error" in json.loads(socket.recv(timeout=5))
        assert client.post("/events", json=ALICE).status_code == 202
        pushes = [json.loads(socket.recv(timeout=5)) for _ in range(3)]
        # The view and the add each bring recommendations first, then the session's
        # features follow once its slot closes.
        assert [p["type"] for p in pushes] == ["recommendations", "recommendations",
                                               "features"]
        assert {p["key"] for p in pushes} == {"s1"}
        assert pushes[1]["record"]["triggerEvent"] == "ADD_TO_CART"
        push = pushes[2]
        assert push["record"]["entity"] == "session"
        assert push["record"]["features"]["session_cart_ratio"] == 1.0


def test_posted_events_give_live_recommendations_and_trending(client: httpx.Client) -> None:
    def shopper(session: str, user: str, kind: str, seconds: float,
                **fields: Any) -> dict[str, Any]:
        return _event(kind, seconds, sessionId=session, userId=user, **fields)

    bob = [shopper("s-bob", "bob", "VIEW_PRODUCT", 1, productId="p1", price=5.0),
           shopper("s-bob", "bob", "VIEW_PRODUCT", 2, productId="p2", price=5.0),
           shopper("s-bob", "bob", "VIEW_PRODUCT", 3, productId="p3", price=5.0),
           shopper("s-bob", "bob", "PURCHASE", 4, orderId="o-bob",
                   items=[{"productId": "p1", "price": 5.0}, {"productId": "p2", "price": 5.0}])]
    carol = [shopper("s-carol", "carol", "VIEW_PRODUCT", 10, productId="p1", price=5.0),
             # A minute later: the first trending pane closes (no disorder allowed here).
             shopper("s-carol", "carol", "VIEW_PRODUCT", 61, productId="p9", price=5.0)]
    assert client.post("/events", json=bob + carol).status_code == 202

    def carol_recs() -> dict[str, Any] | None:
        answer = client.get("/sessions/s-carol/recommendations")
        if answer.status_code != 200:
            return None
        latest: dict[str, Any] = answer.json()["recommendations"]
        return latest if latest["triggerProductId"] == "p9" else None

    recs = _until(carol_recs)
    assert recs is not None, "the recommendations of carol's last view never reached the store"
    # p1 and p9 are carol's own views of this session: never recommended to her. The
    # learned lists publish every five minutes of event time, so a minute in, p2 and p3
    # come from the trending list (p2 bought, p3 only viewed).
    products = recs["recommendedProducts"]
    assert {"p2", "p3"} <= set(products) and not {"p1", "p9"} & set(products)
    assert products.index("p2") < products.index("p3")
    assert recs["sessionId"] == "s-carol" and recs["userId"] == "carol"

    def trending() -> list[dict[str, Any]] | None:
        answer = client.get("/trending")
        return answer.json()["trending"]["products"] if answer.status_code == 200 else None

    top = _until(trending)
    assert top is not None, "no trending list reached the store"
    # Views weigh 0.25 and bought items 1.0: p1 (2 views + 1 bought) leads.
    assert [(p["productId"], p["count"]) for p in top[:3]] == [
        ("p1", 1.5), ("p2", 1.25), ("p3", 0.25)]
