"""A stalled replication connection is not silence of the shop: ``run --postgres`` moves
event time on with the clock when nothing commits (``--idle-ms``), and must not count
the time during which its server could not be heard as such silence. Otherwise, once
the connection flows again, event time has jumped over the stall and the changes
committed during it, delivered right after, come out late.

The run reaches the real PostgreSQL server through a :class:`StallProxy` that the test
stalls (nothing forwarded, connections kept open, as on a network that drops packets)
while changes are committed to the server directly. A connection that is cut instead
ends the run with one line, and ``--resume`` reads every change, none late.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
from stall_proxy import StallProxy

from shopstream.shopdb import schema
from shopstream.shopdb.generate import GenerateConfig, generate

pytestmark = pytest.mark.integration

_STALL_S = 8.0
_ROOT = Path(__file__).resolve().parents[2]


def _cart_row(dsn: str, n: int) -> int:
    """One cart row committed now (its own transaction, stamped now); the WAL position
    after its commit."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO carts (customer_id, session_id, product_id, quantity,"
                        " unit_price) VALUES (1, %s, %s, 1, 9.99)", (f"s{n % 5}", n + 1))
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        conn.close()


def _confirmed(dsn: str) -> int:
    """Where the run's slot is confirmed (the run confirms after each checkpoint)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT coalesce(confirmed_flush_lsn - '0/0'::pg_lsn, 0) "
                        "FROM pg_replication_slots WHERE slot_name = 'stall'")
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def _shop(dsn: str) -> StallProxy:
    """A small shop in ``dsn``'s database, and a proxy in front of its server."""
    schema.init(dsn)
    generate(dsn, GenerateConfig(categories=3, products=40, customers=5, seed=7))
    server = urlsplit(dsn)
    return StallProxy((server.hostname or "127.0.0.1", server.port or 5432))


def _via(dsn: str, proxy: StallProxy) -> str:
    return dsn.replace(f":{urlsplit(dsn).port}/", f":{proxy.port}/")


def _cdc_run(dsn: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopstream.cli", "run", "--postgres", dsn, "--slot",
         "stall", "--output-dir", str(tmp_path / "out"), "--idle-ms", "500",
         "--no-recommendations", "--no-progress", "--json",
         "--checkpoint-dir", str(tmp_path / "ck"), "--checkpoint-seconds", "0.2", *extra],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(_ROOT)})


def _late(tmp_path: Path) -> list[str]:
    late_file = tmp_path / "out" / "late-events.jsonl"
    return late_file.read_text().splitlines() if late_file.exists() else []


def test_changes_committed_while_the_replication_connection_stalls_are_not_late(
        shop_dsn: str, tmp_path: Path) -> None:
    """A caught-up run whose event time follows the clock (live changes, then 1 s of
    silence) cannot hear its server for 8 s, during which a change is committed every
    0.5 s; then the connection flows again. With the out-of-orderness bound of 5 s none
    may be late: event time resumes from where it stopped, it does not jump by 8 s."""
    proxy = _shop(shop_dsn)
    via_proxy = _via(shop_dsn, proxy)
    run = _cdc_run(via_proxy, tmp_path)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(run.stderr or ()), daemon=True)
    reader.start()

    def wait(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert run.poll() is None, (what, log[-20:])
            assert time.monotonic() < deadline, (what, log[-20:])
            time.sleep(0.05)

    def read_up_to(lsn: int) -> Callable[[], bool]:
        return lambda: _confirmed(shop_dsn) >= lsn - 1  # see postgres_cdc: end - 1

    try:
        wait(lambda: _confirmed(shop_dsn) > 0, "the run did not open its slot")
        for n in range(3):  # live changes, read at once
            wait(read_up_to(_cart_row(shop_dsn, n)), "the run did not read a live change")
        time.sleep(1.0)  # caught up and silent: event time follows the clock
        proxy.stall()
        held = int(_STALL_S * 2)
        for n in range(3, 3 + held):
            last = _cart_row(shop_dsn, n)
            time.sleep(0.5)
        proxy.flow()
        wait(read_up_to(last), "the run did not read the changes committed in the stall")
        run.send_signal(signal.SIGTERM)
        stdout = run.stdout.read() if run.stdout else ""
        run.wait(timeout=60)
    finally:
        proxy.flow()
        if run.poll() is None:
            run.kill()
            run.wait()
        proxy.close()
        reader.join(timeout=10)
        for pipe in (run.stdout, run.stderr):
            if pipe is not None:
                pipe.close()
    assert run.returncode == 0, log[-20:]
    summary = json.loads(stdout)
    assert (summary["lines"], summary["late_events"]) == (3 + held, 0), _late(tmp_path)[:3]


def test_a_cut_replication_connection_ends_the_run_and_resume_loses_nothing(
        shop_dsn: str, tmp_path: Path) -> None:
    """The connection is cut (reset) while changes are committed: the run stops with
    one line that says what to do; the changes committed before, during and after the
    cut all come out of ``--resume``, once each, none late."""
    proxy = _shop(shop_dsn)
    run = _cdc_run(_via(shop_dsn, proxy), tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _confirmed(shop_dsn) == 0:  # the slot exists
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        for n in range(3):
            _cart_row(shop_dsn, n)
        time.sleep(1.0)
        for n in range(3, 6):
            _cart_row(shop_dsn, n)
        proxy.close()
        _, err = run.communicate(timeout=60)
    finally:
        proxy.close()
        if run.poll() is None:
            run.kill()
            run.communicate()
    errors = [line for line in err.splitlines() if "error" in line]
    assert run.returncode == 1 and len(errors) == 1, err
    assert "the replication connection was lost; --resume goes on" in errors[0]
    for n in range(6, 9):
        _cart_row(shop_dsn, n)
    again = _cdc_run(shop_dsn, tmp_path, "--resume", "--stop-when-idle", "2")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    summary = json.loads(out)
    assert (summary["lines"], summary["late_events"]) == (9, 0), _late(tmp_path)[:3]
