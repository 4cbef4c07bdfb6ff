"""``shopstream erase USER``: remove a shopper from the store, the lake, the output streams
and the checkpoint.

Takes the ``--store``, ``--lake``, ``--checkpoint-dir`` and ``--output-dir`` of
``shopstream run`` (each optional; at least one), and the same pseudonymisation key, so
that a shopper whose id was pseudonymised at ingest is found under both ids. What was
removed is appended to the erasure log (``--erasure-log``; default beside a SQLite
store, else ``erasures.jsonl``) and printed; the raw id is written to neither. Run it
while no ``run`` writes the same lake, outputs or checkpoint.

Examples
--------
>>> from shopstream.cli import build_parser
>>> args = build_parser(["erase"]).parse_args(["erase", "u1", "--store", "f.db"])
>>> args.user, args.store, args.lake
('u1', 'f.db', None)
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from shopstream.cli.privacy_options import add_privacy_arguments, apply_privacy_options
from shopstream.errors import ConfigError
from shopstream.privacy.erasure import (
    ERASURE_LOG_ENV,
    ErasableStore,
    ErasureLog,
    erase_user,
    erasure_log_beside,
    models_beside,
)

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "erase",
        help="erase a shopper: store, lake, operator state and checkpoint, on record",
        description="Remove every trace of a shopper (their user id, and its pseudonym "
                    "when a key is configured) from the store, the Parquet lake and the "
                    "checkpoint a resumed run starts from, and record what was removed "
                    "in the erasure log.")
    parser.add_argument("user", metavar="USER", help="the shopper's user id, as sent")
    parser.add_argument("--store", metavar="PATH|redis://HOST:PORT",
                        help="the store `shopstream run --store` writes")
    parser.add_argument("--lake", metavar="DIR|s3://BUCKET/PREFIX",
                        help="the lake `shopstream run --lake` writes (a directory or an "
                             "S3-compatible URL)")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="the checkpoints of `shopstream run --checkpoint-dir`")
    parser.add_argument("--models", metavar="DIR",
                        help="the jobs' model versions (default: STORE.models beside a "
                             "SQLite --store, when it exists)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="also rewrite the JSONL output streams of `shopstream run "
                             "--output-dir` without their records")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    add_privacy_arguments(parser, erasure_log=True)
    parser.set_defaults(func=_erase)


def _erase(args: argparse.Namespace) -> int:
    if not (args.store or args.lake or args.checkpoint_dir or args.output_dir):
        msg = "give at least one of --store, --lake, --checkpoint-dir, --output-dir"
        raise ConfigError(msg)
    pseudonymiser = apply_privacy_options(args)
    log = ErasureLog(args.erasure_log or os.environ.get(ERASURE_LOG_ENV)
                     or erasure_log_beside(args.store))
    store = None
    if args.store:
        from shopstream.stores import open_store

        store = open_store(args.store)
    try:
        if store is not None and not isinstance(store, ErasableStore):
            msg = f"the store {store.url!r} cannot erase entries"
            raise ConfigError(msg)
        report = erase_user(args.user, store=store, lake=args.lake,
                            checkpoint_dir=args.checkpoint_dir, output_dir=args.output_dir,
                            models=_models_dir(args),
                            pseudonymiser=pseudonymiser,
                            log=log, requested_by="cli")
    finally:
        if store is not None:
            store.close()
    record = report.record()
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"erased {record['subject'][:23]}... at {record['at']} (erasure {record['erasureId']},"
          f" logged in {log.path})")
    if record["store"] is not None:
        print(f"  store: {record['store']['keysRemoved']:,} keys")
    if record["lake"] is not None:
        print(f"  lake: {record['lake']['rows']:,} rows, {record['lake']['filesRewritten']:,} "
              f"files rewritten, {record['lake']['filesDeleted']:,} deleted")
    if record["checkpoint"] is not None:
        cp = record["checkpoint"]
        if cp.get("found") is False:
            print("  checkpoint: none found")
        else:
            print(f"  checkpoint: {cp['keysRemoved']:,} state entries, "
                  f"{cp['valuesRewritten']:,} values rewritten, {cp['timersRemoved']:,} "
                  f"timers, {cp['eventsRemoved']:,} buffered events")
    if record["models"] is not None:
        print(f"  models: {record['models']['versionsRewritten']:,} versions rewritten")
    if record["outputs"] is not None:
        print(f"  output streams: {record['outputs']['lines']:,} lines, "
              f"{record['outputs']['filesRewritten']:,} files rewritten")
    print(f"  sessions: {record['sessions']:,}")
    if not _found_any(record):
        print("  nothing of theirs was found: if user ids were pseudonymised at ingest, "
              "give the same key (--pseudonymise-key-file or SHOPSTREAM_PSEUDONYM_KEY)")
    return 0


def _models_dir(args: argparse.Namespace) -> str | None:
    """``--models``, else the jobs' default beside a SQLite store when it exists."""
    if args.models:
        return str(args.models)
    beside = models_beside(args.store) if args.store else None
    return None if beside is None else str(beside)


def _found_any(record: dict[str, Any]) -> bool:
    counts = [(record["store"] or {}).get("keysRemoved", 0),
              (record["models"] or {}).get("versionsRewritten", 0),
              (record["lake"] or {}).get("rows", 0),
              (record["outputs"] or {}).get("lines", 0), record["sessions"]]
    cp = record["checkpoint"] or {}
    counts += [cp.get("keysRemoved", 0), cp.get("valuesRewritten", 0),
               cp.get("eventsRemoved", 0)]
    return any(counts)
