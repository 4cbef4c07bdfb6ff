"""The runner over an unbounded :class:`Source`: idle ticks, commits after checkpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers import ev, jsonl

from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig


class ListSource:
    """Lines from a list, then ``ticks`` idle ticks ``tick_s`` apart; never exhausted."""

    name = "memory"

    def __init__(self, lines: list[bytes], ticks: int, tick_s: float,
                 exhausted: bool = False) -> None:
        self.lines = lines
        self.ticks = ticks
        self.tick_s = tick_s
        self.exhausted = exhausted
        self.commits: list[Any] = []
        self.outputs_seen_at_tick: list[int] = []

    def read(self, position: Any | None) -> Iterator[tuple[bytes, Any] | None]:
        start = position or 0
        for i in range(start, len(self.lines)):
            yield self.lines[i], i + 1
        for _ in range(self.ticks):
            time.sleep(self.tick_s)
            yield None

    def commit(self, position: Any) -> None:
        self.commits.append(position)

    def close(self) -> None:
        pass


def _lines() -> list[bytes]:
    events = [
        ev("ADD_TO_CART", 1_000, "a", product_id="p", price=5.0),
        ev("PURCHASE", 2_000, "a", order_id="o1"),
        ev("ADD_TO_CART", 3_000, "b", product_id="q", price=5.0),
    ]
    return jsonl(events).splitlines()


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_an_idle_unbounded_source_moves_the_watermark_so_buffered_events_come_out(
        tmp_path: Path) -> None:
    # Without idle ticks the purchase at t=2s stays buffered (bound 60 s): nothing out.
    quiet = ListSource(_lines(), ticks=0, tick_s=0)
    config = RunnerConfig(out_of_orderness_ms=60_000, idle_ms=50)
    EmbeddedRunner(default_topology(), tmp_path / "none", config).run(quiet)
    assert _count(tmp_path / "none" / "basket-completions.jsonl") == 0

    # ~0.36 s of silence moves the watermark ~360 ms on: past a 100 ms bound.
    source = ListSource(_lines(), ticks=6, tick_s=0.06)
    config = RunnerConfig(out_of_orderness_ms=100, idle_ms=50)
    summary = EmbeddedRunner(default_topology(), tmp_path / "idle", config).run(source)
    assert summary.outputs["basket-completions"] == 1
    done = json.loads((tmp_path / "idle" / "basket-completions.jsonl").read_text())
    assert done["sessionId"] == "a"
    # Not exhausted: the open basket of session b was not force-closed as abandoned.
    assert summary.outputs["abandoned-baskets"] == 0


def test_commits_follow_checkpoints_and_resume_starts_after_the_committed_position(
        tmp_path: Path) -> None:
    lines = _lines()
    config = RunnerConfig(checkpoint_every_events=1, out_of_orderness_ms=0)
    first = ListSource(lines[:2], ticks=0, tick_s=0)
    EmbeddedRunner(default_topology(), tmp_path / "o", config, tmp_path / "c").run(first)
    assert first.commits and first.commits[-1] == 2
    assert first.commits == sorted(first.commits)

    rest = ListSource(lines, ticks=0, tick_s=0, exhausted=True)
    summary = EmbeddedRunner(default_topology(), tmp_path / "o", config, tmp_path / "c").run(
        rest, resume=True)
    assert summary.resumed_at_line == 2 and summary.lines == 3
    assert rest.commits[-1] == 3
    # Exhausted: session b's open basket is closed at the end, as for a file.
    assert summary.outputs["abandoned-baskets"] == 1
