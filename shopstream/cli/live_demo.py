"""The last step of ``shopstream demo``: the API over live simulated traffic.

Not a sub-command: ``demo`` calls :func:`serve_live` after its batch run. Simulated
shoppers keep coming at ``--live-rate`` events per second, stamped with the wall clock,
into the pipeline that ``shopstream serve`` hosts, so features change while a person
clicks around ``/docs``.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shopstream.sim.config import SimulationConfig
from shopstream.sim.live import paced_batches
from shopstream.stores.base import FeatureStore
from shopstream.stores.keys import recs_key, user_key

if TYPE_CHECKING:
    from shopstream.api.server import BackgroundServer

__all__ = ["add_serve_arguments", "serve_live"]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options for its API step."""
    parser.add_argument("--no-serve", action="store_true",
                        help="stop after the batch run instead of starting the API")
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000,
                        help="API port (default 8000; 0 picks a free one)")
    parser.add_argument("--live-rate", type=float, default=50.0, metavar="EPS",
                        help="live simulated events per second fed to the API's pipeline "
                             "(default 50)")
    parser.add_argument("--serve-seconds", type=float, default=0.0, metavar="S",
                        help="stop serving after S seconds (default 0: until Ctrl-C)")


def serve_live(args: argparse.Namespace, root: Path) -> None:
    """Start the API on a fresh store under ``root`` and feed it until told to stop."""
    from shopstream.api.server import BackgroundServer, ServeConfig

    store = root / "features.db"
    for leftover in root.glob("features.db*"):
        leftover.unlink()
    server = BackgroundServer(ServeConfig(store=str(store), host=args.host, port=args.port))
    server.start()
    live = server.state.live
    if live is None:  # pragma: no cover - a single-process server always hosts one
        server.stop()
        return
    stop = threading.Event()
    users: list[str] = []
    sessions: list[str] = []

    def feed() -> None:
        seed = args.seed
        while not stop.is_set():
            # A fresh simulated day at a time: a huge one takes long to plan up front.
            seed += 1
            config = SimulationConfig(sessions=20_000, seed=seed, disorder_ms=1_000)
            for batch in paced_batches(config, args.live_rate):
                if stop.is_set():
                    return
                live.enqueue(batch)
                users.extend(e.user_id for e in batch[-5:])
                sessions.extend(e.session_id for e in batch[-5:])
                del users[:-200], sessions[:-200]

    feeder = threading.Thread(target=feed, name="demo-traffic", daemon=True)
    feeder.start()
    _print_welcome(args, server, store, users, sessions)
    try:
        deadline = time.monotonic() + args.serve_seconds if args.serve_seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        print()
    finally:
        stop.set()
        feeder.join(timeout=5)
        server.stop()  # drains the engine: every event handed to it is processed after
        processed = live.events_processed
    print(f"served: {processed:,} live events processed, {server.state.store.stats.keys:,} "
          f"feature values written to {store}")


def _print_welcome(args: argparse.Namespace, server: BackgroundServer, store: Path,
                   users: list[str], sessions: list[str]) -> None:
    """Where the API is, and requests to try on a shopper and a session it has seen."""
    url = server.url
    print(f"3/3 serving the API at {url} (OpenAPI docs at {url}/docs) over {store},")
    print(f"    fed live simulated traffic at {args.live_rate:g} events/s")
    print(f"    live dashboard: open {url}/ in a browser")
    example = _example(server.state.store, users, lambda u: user_key(u, "locations"),
                       "U000001", 10.0)
    session = _example(server.state.store, sessions, recs_key, "s-1", 5.0)
    print(f"    try: curl {url}/users/{example}/features")
    print(f"         curl {url}/sessions/{session}/recommendations")
    print(f"         curl {url}/trending   (from the end of the first minute)")
    print(f"         curl {url}/metrics ;  WebSocket {url.replace('http', 'ws')}/ws with "
          f'{{"subscribe": {{"user": "{example}"}}}}')
    print("    Ctrl-C stops" if not args.serve_seconds else
          f"    stopping after {args.serve_seconds:g} s", flush=True)


def _example(store: FeatureStore, ids: list[str], key: Callable[[str], str], fallback: str,
             wait_s: float) -> str:
    """An id of the live traffic whose ``key(id)`` reached the store,
    waiting up to ``wait_s``: events are processed once the watermark, 5 s behind, passes
    them."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for ident in reversed(list(ids)):
            if store.get(key(ident)) is not None:
                return ident
        time.sleep(0.25)
    return ids[-1] if ids else fallback
