"""What privacy costs: pseudonymising at decode, and erasing one shopper; prints JSON.

Run: ``.venv/bin/python bench/privacy_bench.py [--events 100000] [--users 10000]
[--lake-rows 500000] [--repeats 5]``

Measures, each the median of ``--repeats`` runs (CPU time of this thread with
``time.thread_time_ns`` for decoding; wall time for erasure, which is I/O):

* ``decode``: ``EventDecoder.decode`` of ``--events`` canonical lines without and with a
  pseudonymisation key, per event, and the overhead of the key (one HMAC-SHA256);
* ``erase_store``: erasing one shopper from a SQLite store of ``--users`` shoppers with
  25 feature keys each (a scan for their keys and values, ``secure_delete``, ``VACUUM``
  and WAL truncation: it grows with the store's size);
* ``erase_lake``: erasing one shopper from a lake of ``--lake-rows`` input events in 10
  Parquet files (the shopper's rows in every file, so every file is rewritten).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from shopstream.events.decode import EventDecoder
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.pseudonym import Pseudonymiser
from shopstream.lake.sink import LakeSink
from shopstream.privacy.erasure import erase_user
from shopstream.stores.base import StoreEntry
from shopstream.stores.embedded import SqliteStore

T0 = 1_700_000_000_000


def _lines(n: int, users: int) -> list[bytes]:
    return [b'{"eventType":"VIEW_PRODUCT","timestamp":%d,"sessionId":"s%d","eventId":"e%d",'
            b'"userId":"user-%d","productId":"p%d","price":9.5}'
            % (T0 + i, i % 997, i, i % users, i % 500) for i in range(n)]


def bench_decode(lines: list[bytes], repeats: int) -> dict[str, Any]:
    plain = EventDecoder(clock=None, pseudonymiser=None)
    keyed = EventDecoder(clock=None, pseudonymiser=Pseudonymiser(b"bench-key-0123456789"))

    def per_event(decoder: EventDecoder) -> float:
        times = []
        for _ in range(repeats):
            started = time.thread_time_ns()
            for raw in lines:
                decoder.decode(raw)
            times.append((time.thread_time_ns() - started) / len(lines))
        return statistics.median(times)

    without, with_key = per_event(plain), per_event(keyed)
    return {"events": len(lines), "ns_per_event_plain": round(without),
            "ns_per_event_pseudonymised": round(with_key),
            "overhead_ns_per_event": round(with_key - without),
            "overhead_share": round((with_key - without) / without, 3)}


def bench_store(work: Path, users: int, repeats: int) -> dict[str, Any]:
    seconds = []
    for r in range(repeats):
        path = work / f"store-{r}" / "f.db"
        store = SqliteStore(path)
        batch = [StoreEntry(f"user:user-{u}:feature_{k}_1hr", k * 1.5, 3_600.0)
                 for u in range(users) for k in range(25)]
        store.write_batch(batch)
        started = time.perf_counter()
        report = erase_user(f"user-{users // 2}", store=store)
        seconds.append(time.perf_counter() - started)
        store.close()
        assert report.store_keys == 25
    return {"keys": users * 25, "seconds": round(statistics.median(seconds), 3),
            "file_bytes": path.stat().st_size}


def bench_lake(work: Path, rows: int, repeats: int) -> dict[str, Any]:
    seconds = []
    per_file = rows // 10
    for r in range(repeats):
        lake = work / f"lake-{r}"
        sink = LakeSink(lake)
        sink.start(None, resume=False, checkpoint_dir=None)
        for i in range(rows):
            sink.write_event(ShopperEvent(EventType.VIEW_PRODUCT, T0 + i, f"s{i % 997}",
                                          user_id=f"user-{i % 1000}", product_id="p"))
            if (i + 1) % per_file == 0:
                sink.commit()
        sink.close()
        started = time.perf_counter()
        report = erase_user("user-7", lake=lake)
        seconds.append(time.perf_counter() - started)
        assert report.lake is not None and report.lake["rows"] > 0
        shutil.rmtree(lake)
    return {"rows": rows, "files": 10, "seconds": round(statistics.median(seconds), 3),
            "rows_per_second": round(rows / statistics.median(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--lake-rows", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="privacy-bench-"))
    try:
        result = {
            "decode": bench_decode(_lines(args.events, args.users), args.repeats),
            "erase_store": bench_store(work, args.users, max(1, args.repeats // 2)),
            "erase_lake": bench_lake(work, args.lake_rows, max(1, args.repeats // 2)),
            "measured": "decode: median CPU ns per event of this thread; erase: median wall "
                        "seconds of erase_user on the store or the lake alone",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
