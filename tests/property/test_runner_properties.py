"""Properties of the embedded runner with the default pipeline.

* any arrival order in which no event is overtaken by more than the out-of-orderness
  bound gives exactly the outputs of the sorted stream;
* a run crashed at any line and resumed from its last checkpoint writes exactly the
  files of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

from helpers import ev, jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopstream.connectors.files import JsonlSource
from shopstream.events import Item, ShopperEvent
from shopstream.events.records import Output
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.harness import run_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

BOUND = 5_000
KINDS = ["VIEW_PRODUCT", "ADD_TO_CART", "REMOVE_FROM_CART", "PURCHASE", "PAGE_VIEW",
         "ADD_TO_WISHLIST"]


@st.composite
def shopping(draw: st.DrawFn) -> list[ShopperEvent]:
    """Events of a few sessions with distinct timestamps and realistic gaps."""
    count = draw(st.integers(1, 60))
    gaps = draw(st.lists(st.integers(1, 600_000), min_size=count, max_size=count))
    events = []
    ts = 0
    for i, gap in enumerate(gaps):
        ts += gap
        kind = draw(st.sampled_from(KINDS))
        session = f"s{draw(st.integers(0, 3))}"
        product = f"p{draw(st.integers(0, 5))}"
        extra: dict[str, object] = {}
        if kind == "PURCHASE" and draw(st.booleans()):
            extra["items"] = (Item(product, price=2.0, quantity=draw(st.integers(1, 3))),)
        events.append(ev(kind, ts, session, product_id=product, price=float(i % 7),
                         quantity=draw(st.integers(1, 3)), **extra))
    return events


def keyed(outputs: list[Output]) -> list[tuple[str, object]]:
    return [(o.stream, o.record) for o in outputs]


@settings(max_examples=150, deadline=None)
@given(shopping(), st.randoms(use_true_random=False))
def test_shuffling_within_the_bound_changes_no_output(events: list[ShopperEvent],
                                                      rnd: random.Random) -> None:
    expected = keyed(run_topology(default_topology(), events, BOUND))
    # Arrival = event time + a delay in [0, BOUND]: no event overtakes another by more.
    shuffled = sorted(events, key=lambda e: e.timestamp_ms + rnd.randint(0, BOUND))
    assert keyed(run_topology(default_topology(), shuffled, BOUND)) == expected


def _outputs(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.jsonl"))}


def _crash_after(src: Path, runner: EmbeddedRunner, after: int) -> Iterator[tuple[bytes, int]]:
    """The source a resumed run reads, crashing after ``after`` lines (a stand-in for kill)."""
    snapshot = runner.checkpoints.load() if runner.checkpoints else None
    start = snapshot["offset"] if snapshot else 0
    for n, item in enumerate(JsonlSource(src, start), start=1):
        if n > after:
            raise KeyboardInterrupt
        yield item


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shopping(), st.lists(st.integers(0, 80), min_size=1, max_size=3), st.integers(1, 9))
def test_killed_and_resumed_runs_equal_the_uninterrupted_run(
        events: list[ShopperEvent], crashes: list[int], every: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "in.jsonl"
        src.write_bytes(jsonl(events) + b"{broken\n" + jsonl(events[::2]))
        config = RunnerConfig(checkpoint_every_events=every, out_of_orderness_ms=BOUND)
        EmbeddedRunner(default_topology(), root / "whole", config).run(src)
        for crash_at in crashes:
            runner = EmbeddedRunner(default_topology(), root / "out", config, root / "ckpt")
            with contextlib.suppress(KeyboardInterrupt):
                runner.run(src, resume=True, source=_crash_after(src, runner, crash_at))
        EmbeddedRunner(default_topology(), root / "out", config, root / "ckpt").run(
            src, resume=True)
        assert _outputs(root / "out") == _outputs(root / "whole")
