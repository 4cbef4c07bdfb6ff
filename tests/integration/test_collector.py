"""The HTTP collector fed by the official Snowplow Python tracker (POST tp2 and GET /i),
forwarding to a real broker (tansu) or to the pipeline ``serve`` hosts."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from snowplow_tracker import Emitter, SelfDescribingJson, Subject, Tracker
from snowplow_tracker.events import PageView, SelfDescribing, StructuredEvent

from shopstream.api.collector import Collector, collector_app
from shopstream.api.security import SecurityConfig
from shopstream.api.server import BackgroundServer, ServeConfig
from shopstream.connectors.kafka_admin import KafkaConfig
from shopstream.connectors.kafka_sink import KafkaEventWriter

pytestmark = pytest.mark.integration

ECOM = "iglu:com.snowplowanalytics.snowplow.ecommerce"
ACTION = f"{ECOM}/snowplow_ecommerce_action/jsonschema/1-0-2"
PRODUCT = f"{ECOM}/product/jsonschema/1-0-0"
CART = f"{ECOM}/cart/jsonschema/1-0-0"
TRANSACTION = f"{ECOM}/transaction/jsonschema/1-0-0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
T0 = 1_767_225_600_000


def product(pid: str, price: float, quantity: int | None = None) -> SelfDescribingJson:
    data: dict[str, Any] = {"id": pid, "name": f"Product {pid}", "category": "Books",
                            "price": price, "currency": "EUR"}
    if quantity is not None:
        data["quantity"] = quantity
    return SelfDescribingJson(PRODUCT, data)


def action(kind: str, *entities: SelfDescribingJson, at: int) -> SelfDescribing:
    return SelfDescribing(SelfDescribingJson(ACTION, {"type": kind}), context=list(entities),
                          true_timestamp=at)


def shop_visit(tracker: Tracker) -> None:
    """A page view, a product view, an add to cart, a purchase and one event that has no
    canonical counterpart."""
    tracker.track(PageView("https://shop.example/books?utm_campaign=winter", true_timestamp=T0))
    tracker.track(action("product_view", product("B1", 12.5), at=T0 + 1_000))
    tracker.track(action("add_to_cart", product("B1", 12.5, 2),
                         SelfDescribingJson(CART, {"cart_id": "c1", "total_value": 25.0,
                                                   "currency": "EUR"}), at=T0 + 2_000))
    tracker.track(action("transaction", product("B1", 12.5, 2),
                         SelfDescribingJson(TRANSACTION, {
                             "transaction_id": "T-1", "revenue": 25.0, "currency": "EUR",
                             "payment_method": "card", "total_quantity": 2}), at=T0 + 3_000))
    tracker.track(StructuredEvent("video", "play", true_timestamp=T0 + 4_000))
    tracker.flush()


def make_tracker(port: int, method: str, session: str,
                 failures: list[Any]) -> Tracker:
    emitter = Emitter("127.0.0.1", protocol="http", port=port, method=method,
                      batch_size=5 if method == "post" else 1,
                      on_failure=lambda sent, unsent: failures.append(unsent))
    subject = (Subject().set_platform("web").set_domain_session_id(session)
               .set_domain_user_id("duid-1").set_user_id("shopper-9").set_useragent(IPHONE))
    return Tracker("shop", emitter, subject=subject, app_id="shop")


@pytest.fixture
def collector_port(kafka_bootstrap: str) -> Iterator[tuple[int, Collector]]:
    """``shopstream collect --kafka``'s app on a free port, forwarding to tansu."""
    config = KafkaConfig(kafka_bootstrap, input_topics=("ecommerce-events",), partitions=1)
    collector = Collector([KafkaEventWriter(config, "ecommerce-events")])
    # The shop's pages may call the collector from their browsers (CORS for that origin).
    app = collector_app(collector, SecurityConfig(cors_origins=("https://shop.example",)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "collector did not start"
        time.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port, collector
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        collector.close()


def read_topic(bootstrap: str, topic: str, want: int) -> list[dict[str, Any]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader",
                         "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    try:
        while len(found) < want and time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.2):
                if message.error() is None:
                    found.append(json.loads(message.value()) | {
                        "_key": message.key().decode()})
    finally:
        consumer.close()
    return found


def test_snowplow_tracker_events_arrive_as_canonical_events_on_the_input_topic(
        collector_port: tuple[int, Collector], kafka_bootstrap: str) -> None:
    port, collector = collector_port
    failures: list[Any] = []
    shop_visit(make_tracker(port, "post", "sess-post", failures))
    shop_visit(make_tracker(port, "get", "sess-get", failures))
    # GET sends one event per request: the unmapped one is answered 400 (not retried).
    assert len(failures) == 1 and failures[0][0]["e"] == "se"

    events = read_topic(kafka_bootstrap, "ecommerce-events", 8)
    assert len(events) == 8
    for session in ("sess-post", "sess-get"):
        got = {e["eventType"]: e for e in events if e["sessionId"] == session}
        assert set(got) == {"PAGE_VIEW", "VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE"}
        for event in got.values():
            assert event["_key"] == session
            assert event["userId"] == "shopper-9"
            assert (event["device"], event["platform"]) == ("mobile", "web")
            assert event["pageUrl" if event["eventType"] == "PAGE_VIEW" else "eventId"]
        assert got["PAGE_VIEW"]["timestamp"] == T0
        assert got["PAGE_VIEW"]["campaign"] == "winter"
        assert got["VIEW_PRODUCT"] | {"eventId": "", "_key": ""} == {
            "eventType": "VIEW_PRODUCT", "timestamp": T0 + 1_000, "sessionId": session,
            "eventId": "", "userId": "shopper-9", "productId": "B1",
            "productName": "Product B1", "category": "Books", "price": 12.5,
            "currency": "EUR", "device": "mobile", "platform": "web", "_key": ""}
        add = got["ADD_TO_CART"]
        assert (add["productId"], add["quantity"], add["price"], add["cartTotal"]) == (
            "B1", 2, 12.5, 25.0)
        purchase = got["PURCHASE"]
        assert (purchase["orderId"], purchase["cartTotal"], purchase["currency"]) == (
            "T-1", 25.0, "EUR")
        assert purchase["items"] == [{"productId": "B1", "productName": "Product B1",
                                      "category": "Books", "price": 12.5, "quantity": 2}]
    # The struct events went to dead-letter with the reason, once per protocol.
    letters = read_topic(kafka_bootstrap, "dead-letter", 2)
    assert [(d["source"], d["stage"]) for d in letters] == [
        ("collector:tp2", "snowplow"), ("collector:i", "snowplow")]
    assert all("e='se' has no canonical event" in d["reason"] for d in letters)
    assert (collector.accepted, collector.rejected) == (8, 2)


def test_tp2_answer_lists_what_was_rejected(collector_port: tuple[int, Collector]) -> None:
    port, _ = collector_port
    body = json.dumps({
        "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        "data": [{"e": "pv", "sid": "s1", "dtm": str(T0), "eid": "ok-1", "p": "web"},
                 {"e": "pv", "dtm": str(T0), "eid": "no-session"}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/com.snowplowanalytics.snowplow/tp2", data=body,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        reply = json.loads(answer.read())
    assert reply["accepted"] == 1
    assert reply["rejected"] == [{"index": 1, "eventId": "no-session",
                                  "reason": "no domain session id (sid): the tracker must "
                                            "send sessions"}]


def test_serve_hosts_the_collector_and_feeds_its_pipeline(tmp_path: Path) -> None:
    server = BackgroundServer(ServeConfig(store=str(tmp_path / "f.db"), port=0))
    server.start()
    try:
        failures: list[Any] = []
        shop_visit(make_tracker(server.port, "post", "sess-serve", failures))
        assert failures == []
        live = server.state.live
        assert live is not None
        deadline = time.monotonic() + 10
        while live.processed < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (live.accepted, live.processed) == (4, 4)
        with urllib.request.urlopen(f"{server.url}/collector/stats", timeout=10) as answer:
            stats = json.loads(answer.read())
        assert (stats["accepted"], stats["rejected"]) == (4, 1)
        assert stats["recentDeadLetters"][0]["stage"] == "snowplow"
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
            assert "shopstream_dead_letters_total 1" in answer.read().decode()
    finally:
        server.stop()


def test_browser_trackers_get_cors_answers(collector_port: tuple[int, Collector]) -> None:
    port, _ = collector_port
    url = f"http://127.0.0.1:{port}/com.snowplowanalytics.snowplow/tp2"
    preflight = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(preflight, timeout=10) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "POST" in answer.headers["Access-Control-Allow-Methods"]
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
