"""The shop database against a real PostgreSQL: generate, simulate, and stream every
committed order into the pipeline exactly once, across a killed and restarted reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from shopstream.cli import main
from shopstream.connectors.postgres_cdc import CdcPosition, PostgresCdcConfig, PostgresCdcSource
from shopstream.shopdb import schema
from shopstream.shopdb.errors import ShopDbError
from shopstream.shopdb.generate import GenerateConfig, generate
from shopstream.shopdb.simulate import SimulateConfig, simulate

pytestmark = pytest.mark.integration


def _query(dsn: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def _new_shop(dsn: str, customers: int = 60) -> None:
    schema.init(dsn)
    generate(dsn, GenerateConfig(categories=15, products=200, customers=customers, seed=7))


def test_db_commands_build_a_consistent_shop(shop_dsn: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "init", "--dsn", shop_dsn]) == 0
    assert main(["db", "generate", "--dsn", shop_dsn, "--categories", "15", "--products",
                 "200", "--customers", "100"]) == 0
    assert main(["db", "simulate", "--dsn", shop_dsn, "--sessions", "120",
                 "--historical-days", "30", "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"):])
    counts = schema.table_counts(shop_dsn)
    assert (counts["categories"], counts["products"], counts["customers"]) == (15, 200, 100)
    assert counts["orders"] == summary["orders"] > 0
    assert counts["payments"] == counts["shipments"] == counts["orders"]
    assert counts["wishlist"] > 0 and counts["order_items"] >= counts["orders"]
    # Money is exact: every total is the sum of its lines, and payments match orders.
    wrong = _query(shop_dsn, """
        SELECT o.id FROM orders o JOIN payments p ON p.id = o.payment_id
        WHERE o.total <> (SELECT sum(i.quantity * i.price) FROM order_items i
                          WHERE i.order_id = o.id) OR p.amount <> o.total""")
    assert wrong == []
    assert _query(shop_dsn, "SELECT pg_typeof(total)::text FROM orders LIMIT 1") == [
        ("numeric",)]
    # Thirty days of history: old orders are delivered, none is in the future.
    span = _query(shop_dsn, "SELECT min(order_date) < now() - interval '20 days', "
                            "max(order_date) <= now(), bool_or(status = 'delivered') "
                            "FROM orders")
    assert span == [(True, True, True)]
    # The simulator's mix: more cart adds than purchases, some removals and wishes.
    actions = summary["actions"]
    assert actions["ADD_TO_CART"] > actions["PURCHASE"] > 0
    assert actions["REMOVE_FROM_CART"] > 0 and actions["ADD_TO_WISHLIST"] > 0
    assert main(["db", "generate", "--dsn", shop_dsn]) == 1  # not twice into one shop
    assert "db clear" in capsys.readouterr().err
    assert main(["db", "clear", "--dsn", shop_dsn]) == 0
    assert set(schema.table_counts(shop_dsn).values()) == {0}
    assert main(["db", "generate", "--dsn", shop_dsn, "--products", "40"]) == 0
    assert main(["db", "reset", "--dsn", shop_dsn]) == 0  # drops and recreates
    assert set(schema.table_counts(shop_dsn).values()) == {0}
    assert _query(shop_dsn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%%_touch'") == [
        (len(schema.TABLES),)]


def test_a_database_error_in_a_shop_command_names_the_server_without_its_password(
        shop_dsn: str) -> None:
    # Trust authentication ignores the password, so the query runs and fails on the
    # missing tables: the error must come through shopdb's one connection wrapper.
    with_password = shop_dsn.replace("://shop@", "://shop:s3cret@")
    with pytest.raises(ShopDbError) as caught:
        schema.table_counts(with_password)
    message = str(caught.value)
    assert message.startswith(f"PostgreSQL at {shop_dsn.replace('://shop@', '://shop:***@')}: ")
    assert 'relation "categories" does not exist' in message and "s3cret" not in message
    with pytest.raises(ShopDbError, match="does not exist"):
        generate(with_password, GenerateConfig(categories=2, products=4, customers=2))
    schema.init(shop_dsn)  # the failed calls left no connection holding a lock
    assert set(schema.table_counts(shop_dsn).values()) == {0}


def _read_events(source: PostgresCdcSource, position: Any, wanted: int,
                 timeout_s: float = 10.0) -> list[tuple[dict[str, Any], Any]]:
    return _read_events_from(source.read(position), wanted, timeout_s)


def _cart_rows(dsn: str, session: str, products: list[int]) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:  # one transaction, one event per row
            for pid in products:
                cur.execute("INSERT INTO carts (customer_id, session_id, product_id, quantity,"
                            " unit_price) VALUES (1, %s, %s, 1, 9.99)", (session, pid))
    finally:
        conn.close()


def test_source_resumes_after_the_checkpointed_event_even_mid_transaction(
        shop_dsn: str) -> None:
    _new_shop(shop_dsn)
    config = PostgresCdcConfig(dsn=shop_dsn, slot="resume_test", tick_s=0.05)
    first = PostgresCdcSource(config)
    try:
        reader = first.read(None)
        next(reader)  # creates the slot; the first item is an idle tick
        _cart_rows(shop_dsn, "a", [1, 2, 3])
        _cart_rows(shop_dsn, "b", [4, 5])
        events = _read_events_from(reader, 5)
    finally:
        first.close()
    assert [e["productId"] for e, _ in events] == ["1", "2", "3", "4", "5"]
    assert all(isinstance(e["price"], float) and e["price"] == 9.99 for e, _ in events)
    # A checkpoint after the second event of the first transaction: nothing was confirmed
    # to the slot, so it replays everything, and the source skips what the checkpoint has.
    checkpointed = events[1][1]
    assert checkpointed.tx_lsn > checkpointed.safe_lsn
    second = PostgresCdcSource(config)
    try:
        again = _read_events(second, checkpointed, 3)
        assert [e["productId"] for e, _ in again] == ["3", "4", "5"]
        assert again[-1][1] == events[-1][1] == CdcPosition(again[-1][1].safe_lsn)
        # A durable checkpoint confirms the slot: a fresh start begins after it.
        second.commit(again[0][1])
    finally:
        second.close()
    confirmed = _query(shop_dsn, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                 "WHERE slot_name = 'resume_test'")[0][0]
    assert _lsn(confirmed) == again[0][1].safe_lsn - 1  # see postgres_cdc's doc
    third = PostgresCdcSource(config)
    try:
        assert [e["productId"] for e, _ in _read_events(third, None, 2)] == ["4", "5"]
    finally:
        third.close()


def _read_events_from(reader: Any, wanted: int,
                      timeout_s: float = 10.0) -> list[tuple[dict[str, Any], Any]]:
    out: list[tuple[dict[str, Any], Any]] = []
    deadline = time.monotonic() + timeout_s
    for item in reader:
        if item is not None:
            out.append((json.loads(item[0]), item[1]))
            if len(out) == wanted:
                break
        assert time.monotonic() < deadline, f"only {len(out)} of {wanted} events arrived"
    return out


def _cdc_run(dsn: str, out: Path, checkpoints: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "run", "--postgres", dsn, "--slot", "e2e",
         "--output-dir", str(out), "--checkpoint-dir", str(checkpoints),
         "--checkpoint-every", "10", "--checkpoint-seconds", "0.3", "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | {"PYTHONPATH": str(
            Path(__file__).resolve().parents[2])})


def _wait_for_slot(dsn: str, slot: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while not _query(dsn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active",
                     (slot,)):
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the CDC run did not open its slot"
        time.sleep(0.1)


def test_every_committed_order_is_one_purchase_across_a_killed_reader(
        shop_dsn: str, tmp_path: Path) -> None:
    _new_shop(shop_dsn)
    out, checkpoints = tmp_path / "out", tmp_path / "ck"
    # History written before the reader's slot exists is not streamed.
    simulate(shop_dsn, SimulateConfig(sessions=20, historical_days=3, seed=3))
    before = {r[0] for r in _query(shop_dsn, "SELECT id FROM orders")}
    first = _cdc_run(shop_dsn, out, checkpoints)
    _wait_for_slot(shop_dsn, "e2e", first)
    # Live shopping, three minutes compressed into three seconds; the reader is killed
    # (no chance to checkpoint) while orders are still being committed.
    live = threading.Thread(target=simulate, args=(shop_dsn, SimulateConfig(
        sessions=80, minutes=3, speed=60, seed=4)))
    live.start()
    deadline = time.monotonic() + 30
    while _query(shop_dsn, "SELECT count(*) FROM orders")[0][0] < len(before) + 3:
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.8)  # a few checkpoints (every 0.3 s) cover those orders
    first.send_signal(signal.SIGKILL)
    first.communicate()
    at_kill = _query(shop_dsn, "SELECT count(*) FROM orders")[0][0]
    pending_at_kill = _query(shop_dsn, "SELECT count(*) FROM orders WHERE status = 'pending'")
    live.join()  # the rest of the orders commit while the reader is down
    assert _query(shop_dsn, "SELECT count(*) FROM orders")[0][0] > at_kill
    second = _cdc_run(shop_dsn, out, checkpoints, "--resume", "--stop-when-idle", "2")
    stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["resumed_at_line"] > 0

    orders = {r[0]: r[1] for r in _query(shop_dsn, "SELECT id, total FROM orders")}
    expected = {oid: total for oid, total in orders.items() if oid not in before}
    assert len(expected) > 20
    # Some orders were placed pending and paid by a later transaction, some of them
    # possibly while the reader was down; all are paid now.
    paid_later = {r[0] for r in _query(shop_dsn, "SELECT o.id FROM orders o JOIN payments p "
                                                 "ON p.id = o.payment_id "
                                                 "WHERE p.updated_at > p.created_at")}
    assert paid_later & set(expected), pending_at_kill
    assert _query(shop_dsn, "SELECT count(*) FROM orders WHERE status = 'pending'") == [(0,)]
    completions = [json.loads(line)
                   for line in (out / "basket-completions.jsonl").read_text().splitlines()]
    bought = [c for c in completions if c["status"] == "COMPLETED"]
    seen = Counter(c["orderId"] for c in bought)
    assert set(seen) == {str(oid) for oid in expected}
    assert max(seen.values()) == 1, [k for k, n in seen.items() if n > 1]
    for c in bought:
        assert Decimal(str(c["totalValue"])) == expected[int(c["orderId"])]
        assert c["eventId"] == f"pg-order-{c['orderId']}"
    assert (out / "late-events.jsonl").read_text() == ""
    assert (out / "dead-letter.jsonl").read_text() == ""
    # Checkouts lower stock: the product rows' changes arrive as catalog changes, and the
    # latest one of each product carries its stock as the database now holds it.
    changes = [json.loads(line)
               for line in (out / "catalog-changes.jsonl").read_text().splitlines()]
    latest = {c["productId"]: c["quantity"] for c in changes
              if c["eventType"] == "PRODUCT_CHANGE"}
    assert latest
    stock = dict(_query(shop_dsn, "SELECT id::text, CASE WHEN active THEN stock ELSE 0 END "
                                  "FROM products"))
    assert {p: stock[p] for p in latest} == latest


def test_sigterm_ends_the_run_with_a_checkpoint_and_a_confirmed_slot(
        shop_dsn: str, tmp_path: Path) -> None:
    _new_shop(shop_dsn)
    out, checkpoints = tmp_path / "out", tmp_path / "ck"
    run = _cdc_run(shop_dsn, out, checkpoints)
    _wait_for_slot(shop_dsn, "e2e", run)
    _cart_rows(shop_dsn, "t", [1, 2, 3])
    time.sleep(1.0)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=20)
    assert run.returncode == 0, stderr.decode()
    assert json.loads(stdout)["lines"] == 3
    confirmed, wal_end = _query(shop_dsn, "SELECT confirmed_flush_lsn::text, "
                                          "pg_current_wal_lsn()::text FROM "
                                          "pg_replication_slots WHERE slot_name = 'e2e'")[0]
    # Up to the checkpoint at least (see postgres_cdc: end - 1), or, once everything read
    # was checkpointed, up to where the server's WAL ended when it last spoke.
    safe = CdcPosition.of(_last_position(checkpoints)).safe_lsn
    assert safe - 1 <= _lsn(confirmed) <= _lsn(wal_end)
    # Nothing new committed: a resumed run reads nothing again.
    again = _cdc_run(shop_dsn, out, checkpoints, "--resume", "--stop-when-idle", "1")
    stdout, stderr = again.communicate(timeout=20)
    assert again.returncode == 0, stderr.decode()
    assert json.loads(stdout)["lines"] == 3  # counted over the whole run, none added
    assert len((out / "dead-letter.jsonl").read_text().splitlines()) == 0


def _last_position(checkpoints: Path) -> Any:
    from shopstream.runners.embedded.checkpoint import CheckpointStore

    snapshot = CheckpointStore(checkpoints).load()
    assert snapshot is not None
    return snapshot["offset"]


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_events_read_after_a_commit_stay_unconfirmed_while_the_reader_idles(
        shop_dsn: str) -> None:
    # psycopg2 moves the flush position to the server's WAL end on keepalives once it
    # believes the last message read was confirmed; a change read after the last
    # checkpoint must not be confirmed that way, or a crash would lose it.
    _new_shop(shop_dsn)
    source = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="idle_test",
                                                 tick_s=0.05))
    try:
        reader = source.read(None)
        next(reader)
        _cart_rows(shop_dsn, "a", [1])
        ((_, first),) = _read_events_from(reader, 1)
        source.commit(first)
        _cart_rows(shop_dsn, "b", [2])
        ((_, second),) = _read_events_from(reader, 1)
        deadline = time.monotonic() + 7  # longer than psycopg2's status interval
        while time.monotonic() < deadline:
            next(reader)
    finally:
        source.close()
    confirmed = _lsn(_query(shop_dsn, "SELECT confirmed_flush_lsn::text "
                                      "FROM pg_replication_slots "
                                      "WHERE slot_name = 'idle_test'")[0][0])
    # The first change's checkpoint is confirmed (and, while the reader idled with it
    # checkpointed, up to the server's WAL end then); the second's commit is not.
    assert first.safe_lsn - 1 <= confirmed < second.safe_lsn - 1
    again = PostgresCdcSource(PostgresCdcConfig(dsn=shop_dsn, slot="idle_test"))
    try:
        assert [e["productId"] for e, _ in _read_events(again, None, 1)] == ["2"]
    finally:
        again.close()


def test_an_order_paid_after_the_reader_restarted_is_one_purchase_with_its_items(
        shop_dsn: str, tmp_path: Path) -> None:
    _new_shop(shop_dsn)
    out, checkpoints = tmp_path / "out", tmp_path / "ck"
    first = _cdc_run(shop_dsn, out, checkpoints)
    try:
        _wait_for_slot(shop_dsn, "e2e", first)
        _cart_rows(shop_dsn, "p", [3, 4])
        prices = dict(_query(shop_dsn, "SELECT id, price FROM products WHERE id IN (3, 4)"))
        lines = [(3, 2, prices[3]), (4, 1, prices[4])]
        total = sum(qty * price for _, qty, price in lines)
        conn = psycopg2.connect(shop_dsn)
        try:
            with conn, conn.cursor() as cur:  # checkout: a pending order, the cart emptied
                cur.execute("INSERT INTO orders (customer_id, session_id, total, status) "
                            "VALUES (1, 'p', %s, 'pending') RETURNING id", (total,))
                order = cur.fetchone()[0]
                for product, qty, price in lines:
                    cur.execute("INSERT INTO order_items (order_id, product_id, quantity, price) "
                                "VALUES (%s, %s, %s, %s)", (order, product, qty, price))
                cur.execute("DELETE FROM carts WHERE session_id = 'p'")
        finally:
            conn.close()
        after_order = _lsn(_query(shop_dsn, "SELECT pg_current_wal_lsn()::text")[0][0])
        # A later event, so a checkpoint can cover the order's transaction (which has none):
        # the restarted reader must not replay the insert, only see the payment.
        _cart_rows(shop_dsn, "q", [5])
        deadline = time.monotonic() + 15
        while not (checkpoints.exists() and _checkpointed_past(checkpoints, after_order)):
            assert first.poll() is None and time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    _query(shop_dsn, "UPDATE orders SET status = 'paid' WHERE id = %s", (order,))
    _query(shop_dsn, "UPDATE orders SET status = 'shipped' WHERE id = %s", (order,))
    second = _cdc_run(shop_dsn, out, checkpoints, "--resume", "--stop-when-idle", "2")
    stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr.decode()
    assert json.loads(stdout)["resumed_at_line"] > 0  # from the checkpoint, not the start
    completions = [json.loads(line)
                   for line in (out / "basket-completions.jsonl").read_text().splitlines()]
    (bought,) = [c for c in completions if c["status"] == "COMPLETED"]
    assert (bought["orderId"], bought["eventId"]) == (str(order), f"pg-order-{order}")
    assert Decimal(str(bought["totalValue"])) == total
    assert [(i["productId"], i.get("quantity", 1), Decimal(str(i["price"])))
            for i in bought["items"]] == [(str(p), q, price) for p, q, price in lines]
    assert (out / "dead-letter.jsonl").read_text() == ""


def _checkpointed_past(checkpoints: Path, lsn: int) -> bool:
    from shopstream.runners.embedded.checkpoint import CheckpointStore

    snapshot = CheckpointStore(checkpoints).load()
    # A checkpoint taken on an idle tick before the first event holds no position yet.
    return (snapshot is not None and snapshot["offset"] is not None
            and CdcPosition.of(snapshot["offset"]).safe_lsn > lsn)
