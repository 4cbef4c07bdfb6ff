"""Change data capture throughput from the shop database; prints JSON.

Run: ``.venv/bin/python bench/cdc_bench.py --dsn DSN [--sessions 3000]``

DSN must name a scratch database on a server with ``wal_level=logical`` and wal2json:
the bench **drops and recreates the shop tables there** and uses the replication slots
``shopstream_bench_read`` and ``shopstream_bench_run`` (dropped at the end). It measures:

* ``write``: ``db simulate --historical-days 30`` committing the sessions' rows;
* ``read``: the CDC source alone (wal2json decoding, change-to-event mapping, encoding);
* ``run``: ``EmbeddedRunner`` with the default pipeline over the same changes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

from shopstream.connectors.postgres_cdc import PostgresCdcConfig, PostgresCdcSource
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.shopdb import schema
from shopstream.shopdb.connection import connect
from shopstream.shopdb.generate import GenerateConfig, generate
from shopstream.shopdb.simulate import SimulateConfig, simulate

SLOTS = ("shopstream_bench_read", "shopstream_bench_run")
IDLE_S = 1.0


def _open_slot(dsn: str, slot: str) -> None:
    source = PostgresCdcSource(PostgresCdcConfig(dsn=dsn, slot=slot))
    try:
        next(source.read(None))  # the slot exists once streaming starts
    finally:
        source.close()


def _drop_slots(dsn: str) -> None:
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                        "WHERE slot_name = ANY(%s)", (list(SLOTS),))
    finally:
        conn.close()


def _read(dsn: str) -> dict[str, Any]:
    source = PostgresCdcSource(PostgresCdcConfig(dsn=dsn, slot=SLOTS[0],
                                                 stop_when_idle_s=IDLE_S))
    events = 0
    started = last = time.perf_counter()
    try:
        for item in source.read(None):
            if item is not None:
                events += 1
                last = time.perf_counter()
    finally:
        source.close()
    seconds = last - started
    return {"events": events, "transactions": source.transactions,
            "seconds": round(seconds, 3), "events_per_s": round(events / seconds),
            "transactions_per_s": round(source.transactions / seconds)}


def _run(dsn: str) -> dict[str, Any]:
    source = PostgresCdcSource(PostgresCdcConfig(dsn=dsn, slot=SLOTS[1],
                                                 stop_when_idle_s=IDLE_S))
    with tempfile.TemporaryDirectory() as out:
        summary = EmbeddedRunner(default_topology(), out).run(source)
    seconds = summary.seconds - IDLE_S  # the silence that ends the run is not work
    return {"events": summary.events, "seconds": round(seconds, 3),
            "events_per_s": round(summary.events / seconds),
            "purchases": summary.outputs["basket-completions"],
            "late_events": summary.late_events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--sessions", type=int, default=3000)
    args = parser.parse_args()
    dsn = args.dsn
    _drop_slots(dsn)
    schema.reset(dsn)
    generate(dsn, GenerateConfig(categories=15, products=1500, customers=1000, seed=1))
    for slot in SLOTS:
        _open_slot(dsn, slot)
    try:
        done = simulate(dsn, SimulateConfig(sessions=args.sessions, historical_days=30))
        actions = (done.cart_adds + done.cart_removals + done.wishlist_adds + done.orders
                   + done.paid_later)  # each its own transaction
        write = {"seconds": done.seconds, "orders": done.orders,
                 "paid_later": done.paid_later, "row_actions": actions,
                 "transactions_per_s": round(actions / done.seconds)}
        result = {"sessions": args.sessions, "write": write, "read": _read(dsn),
                  "run": _run(dsn)}
    finally:
        _drop_slots(dsn)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
