"""Snowplow tracker protocol payloads to canonical events (pure mapping, no server)."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from shopstream.connectors.snowplow import SnowplowRejection, map_payload, payloads_from_post
from shopstream.events.model import EventType, Item

ECOM = "iglu:com.snowplowanalytics.snowplow.ecommerce"
UE = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
BASE = {"sid": "s1", "duid": "d1", "dtm": "1700000000000", "eid": "e-1", "p": "web"}


def ue(schema: str, data: dict[str, Any], *entities: tuple[str, dict[str, Any]],
       encode: bool = True, **extra: str) -> dict[str, str]:
    """A self-describing event payload, base64 encoded (``ue_px``/``cx``) or not."""
    event = json.dumps({"schema": UE, "data": {"schema": schema, "data": data}})
    payload = BASE | {"e": "ue"} | extra
    context = json.dumps({"schema": CONTEXTS, "data": [
        {"schema": s, "data": d} for s, d in entities]})
    if encode:
        payload["ue_px"] = base64.urlsafe_b64encode(event.encode()).decode().rstrip("=")
        if entities:
            payload["cx"] = base64.urlsafe_b64encode(context.encode()).decode().rstrip("=")
    else:
        payload["ue_pr"] = event
        if entities:
            payload["co"] = context
    return payload


def product(pid: str = "p1", **fields: Any) -> tuple[str, dict[str, Any]]:
    return f"{ECOM}/product/jsonschema/1-0-0", {"id": pid, "name": "Pen", "category": "Office",
                                                "price": 2.5, "currency": "EUR"} | fields


ACTION = f"{ECOM}/snowplow_ecommerce_action/jsonschema/1-0-2"


@pytest.mark.parametrize("encode", [True, False])
def test_product_view_from_ue_px_or_ue_pr(encode: bool) -> None:
    event = map_payload(ue(ACTION, {"type": "product_view"}, product(), encode=encode))
    assert (event.event_type, event.product_id, event.product_name, event.category,
            event.price, event.currency) == (EventType.VIEW_PRODUCT, "p1", "Pen", "Office",
                                             2.5, "EUR")
    assert (event.session_id, event.user_id, event.event_id, event.timestamp_ms) == (
        "s1", "d1", "e-1", 1_700_000_000_000)


def test_add_and_remove_take_quantity_and_cart_total() -> None:
    cart = (f"{ECOM}/cart/jsonschema/1-0-0", {"total_value": 7.5, "currency": "EUR"})
    add = map_payload(ue(ACTION, {"type": "add_to_cart"}, product(quantity=3), cart))
    assert (add.event_type, add.quantity, add.cart_total) == (EventType.ADD_TO_CART, 3, 7.5)
    remove = map_payload(ue(ACTION, {"type": "remove_from_cart"}, product(), cart))
    assert (remove.event_type, remove.quantity) == (EventType.REMOVE_FROM_CART, 1)


def test_transaction_becomes_a_purchase_with_items() -> None:
    transaction = (f"{ECOM}/transaction/jsonschema/1-0-0", {
        "transaction_id": "T9", "revenue": 9.0, "currency": "EUR", "payment_method": "card"})
    event = map_payload(ue(ACTION, {"type": "transaction"}, product("a", quantity=2),
                           product("b", price=4.0), transaction))
    assert (event.event_type, event.order_id, event.cart_total, event.currency) == (
        EventType.PURCHASE, "T9", 9.0, "EUR")
    assert event.items == (Item("a", "Pen", "Office", 2.5, 2), Item("b", "Pen", "Office", 4.0, 1))


def test_the_product_entitys_brand_is_the_events_and_each_items_brand() -> None:
    view = map_payload(ue(ACTION, {"type": "product_view"}, product(brand="Acme")))
    assert view.brand == "Acme"
    cart = (f"{ECOM}/cart/jsonschema/1-0-0", {"total_value": 7.5, "currency": "EUR"})
    add = map_payload(ue(ACTION, {"type": "add_to_cart"}, product(brand=" Acme  "), cart,
                         encode=False))
    assert add.brand == "Acme"
    # The schema allows null; blank is no brand either (no empty preference in a profile).
    assert map_payload(ue(ACTION, {"type": "product_view"}, product(brand=None))).brand is None
    assert map_payload(ue(ACTION, {"type": "product_view"}, product(brand=" "))).brand is None
    transaction = (f"{ECOM}/transaction/jsonschema/1-0-0", {
        "transaction_id": "T9", "revenue": 9.0, "currency": "EUR", "payment_method": "card"})
    event = map_payload(ue(ACTION, {"type": "transaction"}, product("a", brand="Acme"),
                           product("b", price=4.0), transaction))
    assert event.items == (Item("a", "Pen", "Office", 2.5, 1, "Acme"),
                           Item("b", "Pen", "Office", 4.0, 1, None))
    assert json.loads(msgspec.json.encode(event))["items"][0]["brand"] == "Acme"


def test_ids_time_device_and_platform() -> None:
    android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"
    event = map_payload(BASE | {"e": "pv", "uid": "u7", "ttm": "1700000000999", "p": "mob",
                                "ua": android, "url": "https://s.example/x"})
    assert (event.user_id, event.timestamp_ms, event.device, event.platform, event.page_url) == (
        "u7", 1_700_000_000_999, "mobile", "android", "https://s.example/x")
    ipad = map_payload(BASE | {"e": "pv", "ua": "Mozilla/5.0 (iPad; CPU OS 17_0)"})
    assert (ipad.device, ipad.platform) == ("tablet", "web")
    bare = map_payload({"e": "pv", "sid": "s2", "dtm": "5", "p": "pc"})
    assert (bare.user_id, bare.device, bare.platform) == ("s2", "desktop", "desktop-app")


def test_legacy_add_to_cart_event() -> None:
    event = map_payload(ue("iglu:com.snowplowanalytics.snowplow/add_to_cart/jsonschema/1-0-0",
                           {"sku": "k1", "quantity": 2, "unitPrice": 3.0, "name": "Ink"}))
    assert (event.event_type, event.product_id, event.quantity, event.price) == (
        EventType.ADD_TO_CART, "k1", 2, 3.0)


@pytest.mark.parametrize(("payload", "reason"), [
    (BASE | {"e": "pp"}, "event type e='pp' has no canonical event"),
    ({"e": "pv", "dtm": "1"}, "no domain session id (sid)"),
    ({"e": "pv", "sid": "s"}, "no usable timestamp"),
    ({"e": "pv", "sid": "s", "dtm": "yesterday"}, "no usable timestamp"),
    (BASE | {"e": "ue"}, "missing ue_pr / ue_px"),
    (BASE | {"e": "ue", "ue_px": "%%%"}, "ue_px is not base64"),
    (BASE | {"e": "ue", "ue_pr": "{"}, "ue_pr is not JSON"),
    (ue(ACTION, {"type": "list_view"}, product()), "ecommerce action type 'list_view'"),
    (ue(ACTION, {"type": "product_view"}), "ecommerce product_view without a product entity"),
    (ue(ACTION, {"type": "transaction"}, product()), "without a transaction entity"),
    (ue(ACTION, {"type": "add_to_cart"}, product(quantity=0)), "quantity 0 is not a positive"),
    (ue(ACTION, {"type": "product_view"}, product(price=-1)), "product price -1 is negative"),
    (ue(ACTION, {"type": "product_view"}, product(pid="")), "the product entity has no id"),
    (ue("iglu:com.acme/video/jsonschema/1-0-0", {"x": 1}), "'iglu:com.acme/video/jsonschema"),
])
def test_unmappable_payloads_say_why(payload: dict[str, str], reason: str) -> None:
    with pytest.raises(SnowplowRejection) as caught:
        map_payload(payload)
    assert reason in str(caught.value)
    assert caught.value.stage == "snowplow"


def test_post_envelope() -> None:
    body = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/"
                                 "jsonschema/1-0-4",
                       "data": [BASE | {"e": "pv"}, {"e": "pv", "stm": 5}]}).encode()
    assert payloads_from_post(body)[1] == {"e": "pv", "stm": "5"}
    for bad, reason in ((b"nope", "not JSON"), (b'{"data": []}', "not a payload_data"),
                        (b'{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/'
                         b'jsonschema/1-0-4", "data": [1]}', "item 0 is not an object")):
        with pytest.raises(SnowplowRejection) as caught:
            payloads_from_post(bad)
        assert reason in str(caught.value)
