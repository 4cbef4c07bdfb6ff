"""Golden change-to-event mapping of the shop database, one file per table.

Each ``data/cdc/<table>.input.jsonl`` holds wal2json (format version 1) messages, one
committed transaction a line, written by hand to exercise that table's inserts, updates
and deletes; ``<table>.expected.jsonl`` the canonical events, checked by hand against the
table in ``shopstream.connectors.cdc_mapping``. ``prelude.input.jsonl`` (two categories,
two products, one customer) is mapped first in every case. ``order_payments`` holds
orders inserted ``pending`` and paid, shipped, cancelled or deleted by later
transactions. Regenerate only with
``pytest --regen-golden`` after a deliberate change, and read the diff.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from shopstream.connectors.cdc_mapping import ChangeMapper, parse_wal2json
from shopstream.events.decode import EventDecoder
from shopstream.events.model import CATALOG_KINDS, parse_timestamp_ms

DATA = Path(__file__).parent / "data" / "cdc"
TABLES = ("categories", "products", "customers", "carts", "wishlist", "orders",
          "order_items", "order_payments")


def _map(table: str) -> list[bytes]:
    mapper = ChangeMapper()
    for line in (DATA / "prelude.input.jsonl").read_bytes().splitlines():
        # The prelude's products and customer are catalog changes, nothing else.
        assert {e.event_type for e in mapper.map(parse_wal2json(line))} <= CATALOG_KINDS
    out = []
    for line in (DATA / f"{table}.input.jsonl").read_bytes().splitlines():
        out.extend(msgspec.json.encode(e) for e in mapper.map(parse_wal2json(line)))
    return out


@pytest.mark.parametrize("table", TABLES)
def test_changes_of_each_table_map_to_the_golden_events(table: str, regen_golden: bool) -> None:
    produced = b"".join(line + b"\n" for line in _map(table)).decode()
    expected_path = DATA / f"{table}.expected.jsonl"
    if regen_golden:
        expected_path.write_text(produced)
    assert produced == expected_path.read_text()


@pytest.mark.parametrize("table", TABLES)
def test_mapped_events_pass_the_pipeline_decoder(table: str) -> None:
    decode = EventDecoder().decode
    for line in _map(table):
        decode(line)


def test_a_committed_order_is_one_purchase_with_its_items_and_no_removals() -> None:
    decode = EventDecoder().decode
    events = [decode(line) for line in _map("orders")]
    kinds = [e.event_type.value for e in events]
    # The checkout also lowers the camera's stock: a catalog change after the purchase.
    assert kinds == ["ADD_TO_CART", "ADD_TO_CART", "PURCHASE", "PRODUCT_CHANGE"]
    assert (events[-1].product_id, events[-1].quantity) == ("10", 8)
    purchase = events[-2]
    assert (purchase.event_id, purchase.order_id, purchase.cart_total) == (
        "pg-order-501", "501", 1022.5)
    assert purchase.items is not None
    assert [(i.product_id, i.quantity, i.price) for i in purchase.items] == [
        ("10", 2, 499.0), ("11", 2, 12.25)]
    assert purchase.session_id == "web-6"


def test_cart_quantity_changes_become_adds_and_removals_of_the_difference() -> None:
    decode = EventDecoder().decode
    events = [decode(line) for line in _map("carts")]
    assert [(e.event_type.value, e.quantity) for e in events] == [
        ("ADD_TO_CART", 1), ("ADD_TO_CART", 2), ("REMOVE_FROM_CART", 1),
        ("REMOVE_FROM_CART", 2), ("ADD_TO_CART", 1), ("REMOVE_FROM_CART", 1)]
    # The backfilled removal is dated by the stamp, not the commit a week later.
    assert events[-1].timestamp_ms == events[-2].timestamp_ms + 60_000


def test_a_pending_order_is_one_purchase_at_its_payment_and_never_again() -> None:
    decode = EventDecoder().decode
    events = [decode(line) for line in _map("order_payments")]
    # 601: paid with the item added after the insert; shipped later: nothing more.
    # 602 cancelled, 605 deleted, 606 never seen inserted: no purchase without items.
    # 604: paid by an update without the old row, remembered unpaid: a purchase.
    assert [(e.event_type.value, e.event_id, e.cart_total) for e in events] == [
        ("PURCHASE", "pg-order-601", 511.5), ("PURCHASE", "pg-order-604", 998.0)]
    first = events[0]
    assert first.items is not None
    assert [(i.product_id, i.quantity, i.price) for i in first.items] == [
        ("10", 1, 499.0), ("11", 1, 12.5)]
    # Dated by the payment's updated_at, not the order date nor the commit.
    assert first.timestamp_ms == parse_timestamp_ms("2026-03-02T11:05:00.250Z")
    assert first.session_id == "web-8" and events[1].session_id == "pg-customer-7"
