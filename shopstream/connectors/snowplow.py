"""Snowplow tracker protocol to canonical shopper events: pure functions, no I/O.

A Snowplow tracker sends events as name-value pairs: a batch in a ``payload_data``
envelope (``POST /com.snowplowanalytics.snowplow/tp2``) or one event in a query string
(``GET /i``). Self-describing events travel in ``ue_pr`` (JSON) or ``ue_px`` (base64),
their entities in ``co`` / ``cx``. What maps:

=================================================  ==================================
Snowplow                                           canonical ``eventType``
=================================================  ==================================
``e=pv`` (page view)                               ``PAGE_VIEW`` (``pageUrl`` = ``url``)
ecommerce action ``product_view``                  ``VIEW_PRODUCT``
ecommerce action ``add_to_cart``                   ``ADD_TO_CART``
ecommerce action ``remove_from_cart``              ``REMOVE_FROM_CART``
ecommerce action ``transaction``                   ``PURCHASE`` (``items`` from products)
legacy ``add_to_cart`` / ``remove_from_cart``      ``ADD_TO_CART`` / ``REMOVE_FROM_CART``
=================================================  ==================================

Every event takes ``sessionId`` from ``sid`` (the domain session id), ``userId`` from
``uid`` else ``duid``, ``timestamp`` from ``ttm`` (true timestamp) else ``dtm``, ``eventId``
from ``eid``, ``device`` / ``platform`` from ``ua`` and ``p``, ``campaign`` from the
``utm_campaign`` of ``url``. The product entity
(``com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0``) gives
``productId`` (``id``), ``productName``, ``category``, ``brand``, ``price``, ``currency``
and ``quantity``, on the event or, for a transaction, on each of its ``items``. Anything
else raises :class:`SnowplowRejection` with the reason.

Examples
--------
>>> ev = map_payload({"e": "pv", "sid": "s1", "duid": "d1", "dtm": "1700000000000",
...                   "p": "web", "url": "https://shop.example/?utm_campaign=fall"})
>>> ev.event_type.value, ev.session_id, ev.user_id, ev.platform, ev.campaign
('PAGE_VIEW', 's1', 'd1', 'web', 'fall')
>>> map_payload({"e": "se", "sid": "s1", "dtm": "1"})
Traceback (most recent call last):
...
shopstream.connectors.errors.SnowplowRejection: event type e='se' has no canonical event ...
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

# SnowplowRejection lives in connectors/errors.py; imported from here too.
from shopstream.connectors.errors import SnowplowRejection
from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.model import EventType, Item, ShopperEvent

__all__ = ["SnowplowRejection", "map_payload", "payloads_from_post"]

_ECOMMERCE = "com.snowplowanalytics.snowplow.ecommerce"
_SNOWPLOW = "com.snowplowanalytics.snowplow"
_ACTIONS = {"product_view": EventType.VIEW_PRODUCT, "add_to_cart": EventType.ADD_TO_CART,
            "remove_from_cart": EventType.REMOVE_FROM_CART, "transaction": EventType.PURCHASE}
_LEGACY = {"add_to_cart": EventType.ADD_TO_CART, "remove_from_cart": EventType.REMOVE_FROM_CART}
_PLATFORMS = {"web": "web", "pc": "desktop-app", "srv": "server", "tv": "tv",
              "cnsl": "console", "iot": "iot", "mob": "mobile-app", "app": "app"}
_P_DEVICES = {"mob": "mobile", "pc": "desktop", "tv": "tv", "cnsl": "console", "iot": "iot"}
_decode_any = msgspec.json.decode


def _decode_json(data: bytes | str) -> Any:
    """Untrusted JSON: too deep a nesting is a decode error like any other, not a crash."""
    try:
        return _decode_any(data)
    except RecursionError:
        msg = "JSON nested too deep"
        raise msgspec.DecodeError(msg) from None


_encode_json = msgspec.json.encode
_DECODER = EventDecoder()


def payloads_from_post(body: bytes) -> list[dict[str, str]]:
    """The events of a ``tp2`` POST body (a ``payload_data`` envelope).

    Examples
    --------
    >>> payloads_from_post(b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/'
    ...                    b'jsonschema/1-0-4","data":[{"e":"pv","dtm":123}]}')
    [{'e': 'pv', 'dtm': '123'}]
    >>> payloads_from_post(b'[]')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopstream.connectors.errors.SnowplowRejection: body is not a payload_data envelope: ...
    """
    try:
        envelope = _decode_json(body)
    except msgspec.DecodeError as exc:
        msg = f"body is not JSON: {exc}"
        raise SnowplowRejection(msg) from None
    if (not isinstance(envelope, dict) or not isinstance(envelope.get("data"), list)
            or _schema_name(envelope.get("schema")) != (_SNOWPLOW, "payload_data")):
        msg = ("body is not a payload_data envelope: expected {\"schema\": \"iglu:"
               "com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4\", "
               "\"data\": [...]}")
        raise SnowplowRejection(msg)
    events = []
    for index, item in enumerate(envelope["data"]):
        if not isinstance(item, dict):
            msg = f"payload_data item {index} is not an object of name-value pairs"
            raise SnowplowRejection(msg)
        events.append({str(k): v if isinstance(v, str) else _text(v) for k, v in item.items()})
    return events


def map_payload(payload: Mapping[str, str]) -> ShopperEvent:
    """The canonical event of one Snowplow event, or :class:`SnowplowRejection`."""
    kind = payload.get("e")
    if kind == "pv":
        return _event(payload, EventType.PAGE_VIEW, {})
    if kind != "ue":
        msg = f"event type e={kind!r} has no canonical event (mapped: pv, ue)"
        raise SnowplowRejection(msg)
    unstruct = _json_field(payload, "ue_pr", "ue_px")
    if not isinstance(unstruct, dict) or not isinstance(unstruct.get("data"), dict):
        msg = "self-describing event without ue_pr / ue_px {\"schema\", \"data\"}"
        raise SnowplowRejection(msg)
    inner = unstruct["data"]
    vendor, name = _schema_name(inner.get("schema"))
    data = inner.get("data")
    if not isinstance(data, dict):
        msg = f"self-describing event {inner.get('schema')!r} has no data object"
        raise SnowplowRejection(msg)
    entities = _entities(payload)
    if (vendor, name) == (_ECOMMERCE, "snowplow_ecommerce_action"):
        return _ecommerce(payload, data, entities)
    if vendor == _SNOWPLOW and name in _LEGACY:
        return _legacy_cart(payload, _LEGACY[name], data)
    msg = (f"self-describing event {inner.get('schema')!r} has no canonical event (mapped: "
           f"{_ECOMMERCE}/snowplow_ecommerce_action, {_SNOWPLOW}/add_to_cart, "
           f"{_SNOWPLOW}/remove_from_cart)")
    raise SnowplowRejection(msg)


def _ecommerce(payload: Mapping[str, str], action: dict[str, Any],
               entities: dict[str, list[dict[str, Any]]]) -> ShopperEvent:
    kind = action.get("type")
    event_type = _ACTIONS.get(kind) if isinstance(kind, str) else None
    if event_type is None:
        msg = (f"ecommerce action type {kind!r} has no canonical event (mapped: "
               f"{', '.join(_ACTIONS)})")
        raise SnowplowRejection(msg)
    products = entities.get("product", [])
    cart = (entities.get("cart") or [{}])[0]
    fields: dict[str, Any] = {}
    if event_type is EventType.PURCHASE:
        transactions = entities.get("transaction")
        if not transactions:
            msg = "ecommerce transaction without a transaction entity"
            raise SnowplowRejection(msg)
        transaction = transactions[0]
        fields["order_id"] = _opt_str(transaction.get("transaction_id"))
        fields["cart_total"] = _number(transaction.get("revenue"), "transaction revenue")
        fields["currency"] = _opt_str(transaction.get("currency"))
        fields["items"] = tuple(_item(p) for p in products) or None
    else:
        if not products:
            msg = f"ecommerce {kind} without a product entity"
            raise SnowplowRejection(msg)
        product = products[0]
        if not product.get("id"):
            msg = f"ecommerce {kind}: the product entity has no id"
            raise SnowplowRejection(msg)
        fields["product_id"] = _opt_str(product.get("id"))
        fields["product_name"] = _opt_str(product.get("name"))
        fields["category"] = _opt_str(product.get("category"))
        fields["brand"] = _brand(product)
        fields["price"] = _number(product.get("price"), "product price")
        fields["currency"] = _opt_str(product.get("currency") or cart.get("currency"))
        if event_type is not EventType.VIEW_PRODUCT:
            fields["quantity"] = _quantity(product.get("quantity", 1))
            fields["cart_total"] = _number(cart.get("total_value"), "cart total_value")
    return _event(payload, event_type, fields)


def _legacy_cart(payload: Mapping[str, str], event_type: EventType,
                 data: dict[str, Any]) -> ShopperEvent:
    if not data.get("sku"):
        msg = f"{event_type.value}: the event has no sku"
        raise SnowplowRejection(msg)
    return _event(payload, event_type, {
        "product_id": _opt_str(data.get("sku")), "product_name": _opt_str(data.get("name")),
        "category": _opt_str(data.get("category")),
        "price": _number(data.get("unitPrice"), "unitPrice"),
        "quantity": _quantity(data.get("quantity", 1)),
        "currency": _opt_str(data.get("currency"))})


def _event(payload: Mapping[str, str], event_type: EventType,
           fields: dict[str, Any]) -> ShopperEvent:
    session = payload.get("sid")
    if not session:
        msg = "no domain session id (sid): the tracker must send sessions"
        raise SnowplowRejection(msg)
    stamp = payload.get("ttm") or payload.get("dtm")
    if not stamp or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 19:
        msg = f"no usable timestamp: ttm={payload.get('ttm')!r}, dtm={payload.get('dtm')!r}"
        raise SnowplowRejection(msg)
    url = payload.get("url")
    device, platform = _device(payload.get("p"), payload.get("ua"))
    event = ShopperEvent(
        event_type=event_type, timestamp_ms=int(stamp), session_id=session,
        event_id=payload.get("eid", ""), user_id=payload.get("uid") or payload.get("duid")
        or "", page_url=url, device=device, platform=platform,
        campaign=_campaign(url), **fields)
    # Through the decoder input files go through, so the same rules hold (ids not empty,
    # a product where one is needed...); a struct built in code is not validated.
    try:
        return _DECODER.decode(_encode_json(event))
    except DecodeError as exc:
        msg = f"{event_type.value}: {exc}"
        raise SnowplowRejection(msg) from None


def _entities(payload: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Ecommerce entities of the ``co`` / ``cx`` contexts, by name (product, cart...)."""
    contexts = _json_field(payload, "co", "cx", required=False)
    found: dict[str, list[dict[str, Any]]] = {}
    if contexts is None:
        return found
    if not isinstance(contexts, dict) or not isinstance(contexts.get("data"), list):
        msg = "contexts (co / cx) are not a {\"schema\", \"data\": [...]} envelope"
        raise SnowplowRejection(msg)
    for entity in contexts["data"]:
        if isinstance(entity, dict) and isinstance(entity.get("data"), dict):
            vendor, name = _schema_name(entity.get("schema"))
            if vendor == _ECOMMERCE:
                found.setdefault(name, []).append(entity["data"])
    return found


def _json_field(payload: Mapping[str, str], plain: str, encoded: str,
                required: bool = True) -> Any:
    if plain in payload:
        text = payload[plain].encode()
    elif encoded in payload:
        try:
            raw = payload[encoded].strip().translate(_TO_URLSAFE)
            text = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_",
                                    validate=True)
        except (binascii.Error, ValueError):
            msg = f"{encoded} is not base64"
            raise SnowplowRejection(msg) from None
    elif required:
        msg = f"missing {plain} / {encoded}"
        raise SnowplowRejection(msg)
    else:
        return None
    try:
        return _decode_json(text)
    except msgspec.DecodeError as exc:
        msg = f"{plain if plain in payload else encoded} is not JSON: {exc}"
        raise SnowplowRejection(msg) from None


_TO_URLSAFE = str.maketrans("+/", "-_")


def _schema_name(schema: object) -> tuple[str, str]:
    """``(vendor, name)`` of an ``iglu:vendor/name/jsonschema/version`` URI."""
    if not isinstance(schema, str) or not schema.startswith("iglu:"):
        return "", ""
    parts = schema[5:].split("/")
    return (parts[0], parts[1]) if len(parts) == 4 else ("", "")


def _item(product: dict[str, Any]) -> Item:
    product_id = _opt_str(product.get("id"))
    if not product_id:
        msg = "transaction product without an id"
        raise SnowplowRejection(msg)
    try:
        return Item(product_id, _opt_str(product.get("name")),
                    _opt_str(product.get("category")),
                    _number(product.get("price"), "product price") or 0.0,
                    _quantity(product.get("quantity", 1)), _brand(product))
    except (TypeError, ValueError) as exc:
        msg = f"transaction product {product_id!r}: {exc}"
        raise SnowplowRejection(msg) from None


def _brand(product: dict[str, Any]) -> str | None:
    """The product entity's optional ``brand`` (string or null, schema 1-0-0); blank is
    none, like a NULL ``products.brand`` from the shop database."""
    brand = _opt_str(product.get("brand"))
    return brand.strip() or None if brand else None


def _device(platform: str | None, agent: str | None) -> tuple[str | None, str | None]:
    ua = (agent or "").lower()
    if "ipad" in ua or "tablet" in ua:
        device: str | None = "tablet"
    elif "mobi" in ua or "iphone" in ua or "android" in ua:
        device = "mobile"
    elif ua:
        device = "desktop"
    else:
        device = _P_DEVICES.get(platform or "")
    name = _PLATFORMS.get(platform or "", platform)
    if platform in ("mob", "app"):
        if "android" in ua:
            name = "android"
        elif "iphone" in ua or "ipad" in ua or "ios" in ua:
            name = "ios"
    return device, name


def _campaign(url: str | None) -> str | None:
    if not url or "utm_campaign" not in url:
        return None
    values = parse_qs(urlsplit(url).query).get("utm_campaign")
    return values[0] if values else None


def _opt_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _text(value)


def _text(value: object) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _number(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        msg = f"{what} {value!r} is not a number"
        raise SnowplowRejection(msg)
    try:
        number = float(value)
    except ValueError:
        msg = f"{what} {value!r} is not a number"
        raise SnowplowRejection(msg) from None
    if number < 0:
        msg = f"{what} {value!r} is negative"
        raise SnowplowRejection(msg)
    return number


def _quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or (
            value != int(value)):
        msg = f"quantity {value!r} is not a positive whole number"
        raise SnowplowRejection(msg)
    return int(value)
