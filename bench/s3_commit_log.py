"""What a read of an S3 lake's commit log costs as the lake's commits grow 10x.

Writes ``--commits`` commits and then 10x as many (flushes of runs of 10, every fifth a
compaction of two flushes) to moto's S3 server on 127.0.0.1, once folded every
``--fold-every`` commits (what a run writer does) and once never folded (the log before
folds), and reads the log (:func:`shopstream.lake.commit_log.read_log`, what ``sql``, the
reports and compaction do) ``--reads`` times. Prints JSON: per size and mode, the S3 calls
of one read (LIST, GET), the commits it read, and the CPU time of a read (this process's,
moto's server included: it runs in this process).

    .venv/bin/python bench/s3_commit_log.py --commits 100 --fold-every 64
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import Counter
from typing import Any

from shopstream.lake.commit_log import fold_log, read_log
from shopstream.lake.commits import COMMITS, Commit, flush_commit_name, write_commit
from shopstream.lake.lease import LeaseLock
from shopstream.lake.object_store import ObjectStore, parse_s3_url


def _part(run: str, seq: int) -> str:
    return f"stream=events/date=2026-03-01/part-{run}-{seq:06d}.parquet"


def _fill(store: ObjectStore, commits: int, fold_every: int | None) -> None:
    lease = LeaseLock(store, "bench")
    lease.acquire()
    try:
        for i in range(commits):
            run, seq = f"r{i // 10}", i % 10 + 1
            if seq == 5:
                commit = Commit(f"{COMMITS}compact-{i}.json",
                                adds=(f"stream=events/date=2026-03-01/compacted-{run}-{i}.parquet",),
                                drops=(_part(run, 3), _part(run, 4)))
            else:
                commit = Commit(flush_commit_name(run, seq), run, seq, f"in{i // 10}",
                                (_part(run, seq),))
            write_commit(store, commit)
            if fold_every is not None and (i + 1) % fold_every == 0:
                fold_log(store, lease)
    finally:
        lease.release()


def _measure(endpoint: str, commits: int, fold_every: int | None,
             reads: int) -> dict[str, Any]:
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    store = ObjectStore(parse_s3_url(f"s3://{bucket}/lake"))
    store.client.create_bucket(Bucket=bucket)
    _fill(store, commits, fold_every)
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    store.client.meta.events.register("before-call.s3", count)
    log = read_log(store)
    one = dict(seen)
    started = time.process_time()
    for _ in range(reads):
        read_log(store)
    cpu_ms = (time.process_time() - started) * 1000 / reads
    return {"commits": commits, "folded": fold_every is not None,
            "calls_per_read": one, "commits_read": len(log.commits),
            "live_keys": len(log.live), "cpu_ms_per_read": round(cpu_ms, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--fold-every", type=int, default=64)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ[name] = value
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        results = [_measure(os.environ["AWS_ENDPOINT_URL"], n, fold, args.reads)
                   for n in (args.commits, args.commits * 10)
                   for fold in (args.fold_every, None)]
    finally:
        server.stop()
    json.dump({"fold_every": args.fold_every, "reads": args.reads,
               "load_average": os.getloadavg(), "results": results}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
