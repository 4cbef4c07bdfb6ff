"""Hostile values through the PostgreSQL CDC door (issue 18): what the database allows and
a shopper event cannot hold (values out of range, absurd or infinite timestamps, NaN money,
huge item lists) never crashes the mapping, and each such change becomes a dead letter
with its reason once the runner decodes what the source yields, as at every other door."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from shopstream.connectors.cdc_mapping import ChangeMapper, MappingRefusal, parse_wal2json
from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.events.model import ShopperEvent

_encode = msgspec.json.Encoder().encode  # as the CDC source encodes what the mapper gives
NOW_MS = int(time.time() * 1000)
LIMITS = InputLimits(min_timestamp_ms=YEAR_2000_MS)
CART = ["id", "customer_id", "session_id", "product_id", "quantity", "unit_price",
        "updated_at"]
ORDER = ["id", "customer_id", "session_id", "status", "total", "currency", "order_date"]
ITEM = ["id", "order_id", "product_id", "quantity", "price"]
PRODUCT = ["id", "name", "category_id", "price", "stock", "active", "updated_at"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


RECENT = _iso(NOW_MS - 60_000)


def _change(table: str, columns: list[str], values: list[Any]) -> dict[str, Any]:
    return {"kind": "insert", "schema": "public", "table": table, "columnnames": columns,
            "columnvalues": values}


def _tx(xid: int, *changes: dict[str, Any]) -> bytes:
    return json.dumps({"xid": xid, "nextlsn": f"0/{xid:X}", "timestamp": RECENT[:-3] + "+00",
                       "change": list(changes)}).encode()


def _cart(n: int, **values: Any) -> dict[str, Any]:
    row = {"id": n, "customer_id": 3, "session_id": f"s{n}", "product_id": 12,
           "quantity": 2, "unit_price": 9.99, "updated_at": RECENT} | values
    return _change("carts", CART, [row[c] for c in CART])


def _order(n: int, items: int, **values: Any) -> list[dict[str, Any]]:
    row = {"id": n, "customer_id": 3, "session_id": f"o{n}", "status": "paid",
           "total": 19.98, "currency": "EUR", "order_date": RECENT} | values
    lines = [_change("order_items", ITEM, [n * 100_000 + i, n, 12, 1, 9.99])
             for i in range(items)]
    return [*lines, _change("orders", ORDER, [row[c] for c in ORDER])]


def _product(n: int, **values: Any) -> dict[str, Any]:
    row = {"id": n, "name": "mug", "category_id": None, "price": 4.5, "stock": 10,
           "active": True, "updated_at": RECENT} | values
    return _change("products", PRODUCT, [row[c] for c in PRODUCT])


#: name -> the changes of one hostile transaction; ``map`` says what refuses it.
HOSTILE: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "cart quantity 10**12": ("limit", [_cart(1, quantity=10**12)]),
    "cart unit price 1e30": ("limit", [_cart(2, unit_price=1e30)]),
    "cart unit price NaN": ("map", [_cart(3, unit_price="NaN")]),
    "cart unit price null (NaN as wal2json sends it)": ("map", [_cart(21, unit_price=None)]),
    "cart unit price Infinity": ("map", [_cart(4, unit_price="Infinity")]),
    "cart quantity not a number": ("map", [_cart(5, quantity="lots")]),
    "cart stamped 'infinity'": ("map", [_cart(6, updated_at="infinity")]),
    "cart stamped in year 294276": ("map", [_cart(7, updated_at="294276-12-31 23:59:59+00")]),
    "cart stamped in year 9999": ("limit", [_cart(8, updated_at="9999-12-31 23:59:59+00")]),
    "cart stamped a day ahead": ("limit", [_cart(9, updated_at=_iso(NOW_MS + 86_400_000))]),
    "cart stamped in 1900": ("map", [_cart(10, updated_at="1900-01-01 00:00:00+00")]),
    "cart stamped 40 characters and more": ("map", [_cart(11, updated_at="2" * 50)]),
    "cart session id of 10,000 characters": ("limit", [_cart(12, session_id="s" * 10_000)]),
    "paid order of 5,000 items": ("limit", _order(13, 5_000)),
    "paid order total 1e30": ("limit", _order(14, 1, total=1e30)),
    "paid order total NaN": ("map", _order(15, 1, total="NaN")),
    "paid order dated 'infinity'": ("map", _order(16, 1, order_date="infinity")),
    "order item price 1e30": ("limit", [
        _change("order_items", ITEM, [1_700_001, 17, 12, 1, 1e30]),
        _change("orders", ORDER, [17, 3, "o17", "paid", 5.0, "EUR", RECENT])]),
    "order item quantity 10**9": ("limit", [
        _change("order_items", ITEM, [1_800_001, 18, 12, 10**9, 1.0]),
        _change("orders", ORDER, [18, 3, "o18", "paid", 5.0, "EUR", RECENT])]),
    "product price NaN": ("map", [_product(19, price="NaN")]),
    "product stock 10**12": ("limit", [_product(20, stock=10**12)]),
}


def _decode_all(mapper: ChangeMapper, payload: bytes) -> tuple[int, list[DecodeError]]:
    """What the runner makes of a transaction: events accepted, and the decode errors
    (each one a dead letter)."""
    decoder = EventDecoder(LIMITS, clock=lambda: NOW_MS / 1000)
    accepted, refused = 0, []
    for out in mapper.map(parse_wal2json(payload)):
        try:
            decoder.decode(_encode(out))
            accepted += 1
        except DecodeError as exc:
            refused.append(exc)
    return accepted, refused


@pytest.mark.parametrize("name", HOSTILE)
def test_each_hostile_change_is_refused_and_the_mapping_goes_on(name: str) -> None:
    where, changes = HOSTILE[name]
    mapper = ChangeMapper()
    assert _decode_all(mapper, _tx(1, _cart(100))) == (1, [])
    out = mapper.map(parse_wal2json(_tx(2, *changes)))
    refusals = [o for o in out if isinstance(o, MappingRefusal)]
    if where == "map":
        assert len(refusals) == 1, out
        assert refusals[0].cdc_mapping_error
        assert "cdcMappingError" in _encode(refusals[0]).decode()
    else:
        assert not refusals, refusals
    accepted, refused = _decode_all(ChangeMapper(), _tx(2, *changes))
    assert (accepted, len(refused)) == (0, 1), name
    if where == "limit":
        assert refused[0].stage == "limit", refused[0]
    # The mapper keeps working on the next transaction.
    assert _decode_all(mapper, _tx(3, _cart(101), *_order(102, 2))) == (2, [])


def test_valid_changes_beside_a_hostile_one_in_a_transaction_are_kept() -> None:
    changes = [_cart(200), _cart(201, updated_at="infinity"), _cart(202, quantity=10**12),
               _cart(203), *_order(204, 3)]
    mapper = ChangeMapper()
    out = mapper.map(parse_wal2json(_tx(9, *changes)))
    assert [type(o).__name__ for o in out] == ["ShopperEvent", "MappingRefusal",
                                               "ShopperEvent", "ShopperEvent", "ShopperEvent"]
    accepted, refused = _decode_all(ChangeMapper(), _tx(9, *changes))
    assert (accepted, len(refused)) == (3, 2)
    purchase = [o for o in out if isinstance(o, ShopperEvent) and o.items]
    assert len(purchase[0].items or ()) == 3


def test_a_huge_order_maps_in_one_pass_and_is_refused_by_the_item_limit() -> None:
    out = ChangeMapper().map(parse_wal2json(_tx(5, *_order(7, 20_000))))
    assert len(out) == 1 and isinstance(out[0], ShopperEvent)
    assert len(out[0].items or ()) == 20_000
    decoder = EventDecoder(LIMITS, clock=lambda: NOW_MS / 1000)
    with pytest.raises(DecodeError, match="max_items=1000"):
        decoder.decode(_encode(out[0]))
