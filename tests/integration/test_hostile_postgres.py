"""Hostile values through the PostgreSQL CDC door against a real server (issue 18): rows the
schema allows and no shopper event can hold are dead letters with their reason, the valid
rows around them are processed, none late, and the run does not crash."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest
from test_postgres_cdc import _cdc_run, _new_shop, _wait_for_slot

pytestmark = pytest.mark.integration

#: carts rows (session, quantity, unit price, updated_at SQL) the schema accepts.
HOSTILE = [
    ("h-qty", "2000000000", "9.99", "now()"),             # quantity over --max-quantity
    ("h-price", "1", "9999999999.99", "now()"),           # price over --max-price
    ("h-nan", "1", "'NaN'", "now()"),                     # NaN money
    ("h-inf", "1", "9.99", "'infinity'"),                 # a timestamp Python cannot hold
    ("h-9999", "1", "9.99", "'9999-12-31 23:59:59+00'"),  # far ahead of the clock
    ("h-1900", "1", "9.99", "'1900-01-01 00:00:00+00'"),  # before 1970
    ("s" * 10_000, "1", "9.99", "now()"),                 # an id over --max-id-length
]


def _insert(dsn: str, session: str, quantity: str, price: str, stamp: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                        f"unit_price, updated_at) VALUES (1, %s, 1, {quantity}, {price}, "
                        f"{stamp})", (session,))
    finally:
        conn.close()


def test_hostile_rows_are_dead_letters_and_the_valid_ones_go_through(
        shop_dsn: str, tmp_path: Path) -> None:
    _new_shop(shop_dsn)
    out = tmp_path / "out"
    run = _cdc_run(shop_dsn, out, tmp_path / "ck", "--stop-when-idle", "4")
    _wait_for_slot(shop_dsn, "e2e", run)
    for n, (session, quantity, price, stamp) in enumerate(HOSTILE):
        _insert(shop_dsn, f"ok-{n}", "1", "9.99", "now()")
        _insert(shop_dsn, session, quantity, price, stamp)
    _insert(shop_dsn, "ok-last", "1", "9.99", "now()")
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    summary = json.loads(stdout)
    valid = len(HOSTILE) + 1
    assert (summary["events"], summary["dead_letters"], summary["late_events"]) == (
        valid, len(HOSTILE), 0)
    letters = [json.loads(x) for x in (out / "dead-letter.jsonl").read_text().splitlines()]
    assert len(letters) == len(HOSTILE)
    assert all(letter["reason"] for letter in letters)
    mapped = [letter for letter in letters if "cdcMappingError" in letter["raw"]]
    assert {json.loads(m["raw"])["row"]["session_id"] for m in mapped} == {
        "h-nan", "h-inf", "h-1900"}
    assert sum(letter["stage"] == "limit" for letter in letters) == 4
