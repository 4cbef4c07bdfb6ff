"""Input of the privacy tests: one shopper to erase among others, and the pipeline runs.

The shopper ``TARGET`` has two sessions early in the input (a purchase, and a valuable
cart left open, so an abandonment timer is pending), a line that fails to decode and a
line that is not JSON; the other shoppers fill the input, and only they appear after
``SPLIT`` (the line of the checkpoint a crashed run resumes from).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shopstream.connectors.files import JsonlSource
from shopstream.lake.sink import LakeSink
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig, RunSummary
from shopstream.stores.base import FeatureStore
from shopstream.stores.tap import StoreTap

TARGET = "zed-shopper-4242"
TARGET_SESSIONS = ("sess-zed-a", "sess-zed-b")
T0 = 1_700_000_000_000
#: The checkpoint before the crash is taken at this line; after it, only other shoppers.
SPLIT = 300
CRASH = 330
TOTAL = 420
CONFIG = RunnerConfig(checkpoint_every_events=100, out_of_orderness_ms=1_000)


def _line(kind: str, n: int, session: str, user: str, **fields: Any) -> bytes:
    body = {"eventType": kind, "timestamp": T0 + n * 1_000, "sessionId": session,
            "userId": user, **fields}
    return json.dumps(body).encode()


def _shopper(n: int, session: str, user: str, buy: bool) -> list[bytes]:
    lines = [
        _line("VIEW_PRODUCT", n, session, user, productId="p-tea", price=30.0,
              category="drinks", device="mobile", country="NL"),
        _line("ADD_TO_CART", n + 1, session, user, productId="p-tea", price=30.0, quantity=2),
        _line("SEARCH", n + 2, session, user, searchQuery="kettle"),
        _line("VIEW_PRODUCT", n + 3, session, user, productId="p-kettle", price=120.0),
        _line("ADD_TO_CART", n + 4, session, user, productId="p-kettle", price=120.0),
    ]
    if buy:
        lines.append(_line("PURCHASE", n + 5, session, user, orderId=f"o-{session}",
                           cartTotal=180.0,
                           items=[{"productId": "p-tea", "price": 30.0, "quantity": 2},
                                  {"productId": "p-kettle", "price": 120.0}]))
    return lines


def input_lines() -> list[bytes]:
    """``TOTAL`` lines: the target's sessions and two bad lines of theirs before ``SPLIT``."""
    lines: list[bytes] = []
    lines += _shopper(0, TARGET_SESSIONS[0], TARGET, buy=True)
    lines.append(b'{"eventType":"TELEPORT","sessionId":"sess-zed-a","userId":"%s",'
                 b'"timestamp":%d}' % (TARGET.encode(), T0 + 7_000))
    lines.append(b'{"userId":"%s", this is not JSON' % TARGET.encode())
    lines += _shopper(10, TARGET_SESSIONS[1], TARGET, buy=False)
    n, i = 20, 0
    while len(lines) < TOTAL:
        shopper, group = i % 5, i // 5
        lines += _shopper(n, f"sess-other-{shopper}-{group}", f"other-shopper-{shopper}",
                          buy=shopper % 2 == 0)
        n += 6
        i += 1
    return lines[:TOTAL]


def write_input(path: Path) -> Path:
    path.write_bytes(b"\n".join(input_lines()) + b"\n")
    return path


def topology() -> Any:
    return default_topology(PipelineConfig(features=FeaturesConfig(),
                                           recommendations=RecommendationsConfig(),
                                           profiles=ProfilesConfig()))


def _crash_after(path: Path, lines: int) -> Iterator[tuple[bytes, int]]:
    for n, item in enumerate(JsonlSource(path), start=1):
        if n > lines:
            raise KeyboardInterrupt  # stands in for a kill
        yield item


def run(src: Path, out: Path, checkpoints: Path, lake: Path, store: FeatureStore,
        resume: bool = False, crash: bool = False) -> RunSummary | None:
    """One run of the pipeline with the features and recommendations, writing ``store``
    and ``lake``, checkpointing in ``checkpoints``; ``crash`` kills it at line ``CRASH``."""
    runner = EmbeddedRunner(topology(), out, CONFIG, checkpoint_dir=checkpoints,
                            taps=[StoreTap(store)], lake=LakeSink(lake))
    if crash:
        try:
            runner.run(src, source=_crash_after(src, CRASH))
        except KeyboardInterrupt:
            return None
        msg = "the run did not crash"
        raise AssertionError(msg)
    return runner.run(src, resume=resume)


def lake_text(lake: Path) -> str:
    """Every value of every lake file, as text (Parquet pages are compressed)."""
    import pyarrow.parquet as pq

    return "\n".join(str(pq.read_table(p).to_pylist()) for p in sorted(lake.rglob("*.parquet")))


def lake_bytes(lake: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file())


def sqlite_bytes(path: Path) -> bytes:
    """The store file and its write-ahead log and shared memory, as on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
