from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ev, jsonl

from shopstream.connectors.files import JsonlSource
from shopstream.errors import CheckpointError, ConfigError, SourceError
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

BAD_LINES = [
    b"not json",
    b'{"eventType":"VIEW_PRODUCT","sessionId":"s"',
    b'{"sessionId":"s","timestamp":1}',
    b'{"eventType":"PAGE_VIEW","timestamp":1}',
    b'{"eventType":"PAGE_VIEW","sessionId":"s"}',
    b'{"eventType":"NOPE","sessionId":"s","timestamp":1}',
    b'{"eventType":"VIEW_PRODUCT","sessionId":"s","timestamp":1,"productId":"p","price":-3}',
    b'{"eventType":"ADD_TO_CART","sessionId":"s","timestamp":1,"productId":"p","quantity":"x"}',
    b'{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":"last tuesday"}',
    b'{"eventType":"ADD_TO_CART","sessionId":"s","timestamp":1}',
]


def sample_events() -> bytes:
    events = []
    for s in range(6):
        base = s * 700_000
        events += [
            ev("VIEW_PRODUCT", base + 1, f"s{s}", product_id=f"p{s}"),
            ev("ADD_TO_CART", base + 2_000, f"s{s}", product_id=f"p{s}", price=1.5 + s),
            ev("ADD_TO_CART", base + 3_000, f"s{s}", product_id="x", price=2.0),
        ]
        if s % 2 == 0:
            events.append(ev("PURCHASE", base + 4_000, f"s{s}", order_id=f"o{s}"))
    events.sort(key=lambda e: e.timestamp_ms)
    return jsonl(events)


def read_outputs(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.jsonl"))}


def test_bad_lines_go_to_dead_letter_with_reason_and_the_run_goes_on(tmp_path: Path) -> None:
    data = sample_events().splitlines(keepends=True)
    mixed = b"".join(line + bad + b"\n" for line, bad in zip(data, BAD_LINES, strict=False))
    mixed += b"".join(data[len(BAD_LINES):])
    (tmp_path / "in.jsonl").write_bytes(mixed)
    summary = EmbeddedRunner(default_topology(), tmp_path / "out").run(tmp_path / "in.jsonl")
    assert summary.dead_letters == len(BAD_LINES)
    assert summary.events == len(data)
    letters = [json.loads(line) for line in
               (tmp_path / "out" / "dead-letter.jsonl").read_text().splitlines()]
    assert [d["raw"].encode() for d in letters] == BAD_LINES
    assert all(d["reason"] and d["stage"] in ("decode", "validate") for d in letters)
    assert all(d["source"].endswith("in.jsonl") and d["offset"] > 0 for d in letters)
    assert summary.outputs["basket-completions"] == 3
    assert summary.outputs["abandoned-baskets"] == 3


def crash_after(path: Path, lines: int) -> Iterator[tuple[bytes, int]]:
    for n, item in enumerate(JsonlSource(path), start=1):
        if n > lines:
            raise KeyboardInterrupt  # stands in for a kill: no clean shutdown of the loop
        yield item


@pytest.mark.parametrize("crash_at", [1, 5, 9, 14, 20])
def test_resume_after_crash_writes_exactly_the_uninterrupted_output(tmp_path: Path,
                                                                     crash_at: int) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(sample_events() + b"garbage\n" + sample_events().replace(b'"s', b'"t'))
    config = RunnerConfig(checkpoint_every_events=4, out_of_orderness_ms=1_000)
    EmbeddedRunner(default_topology(), tmp_path / "whole", config).run(src)

    runner = EmbeddedRunner(default_topology(), tmp_path / "out", config, tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        runner.run(src, source=crash_after(src, crash_at))
    summary = EmbeddedRunner(default_topology(), tmp_path / "out", config,
                             tmp_path / "ckpt").run(src, resume=True)
    assert read_outputs(tmp_path / "out") == read_outputs(tmp_path / "whole")
    assert summary.lines == len(src.read_bytes().splitlines())
    assert summary.resumed_at_line <= crash_at


def test_resume_without_a_checkpoint_starts_from_the_beginning(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(sample_events())
    summary = EmbeddedRunner(default_topology(), tmp_path / "o", None, tmp_path / "c").run(
        src, resume=True)
    assert summary.resumed_at_line == 0 and summary.outputs["basket-completions"] == 3


def test_errors_are_clear(tmp_path: Path) -> None:
    runner = EmbeddedRunner(default_topology(), tmp_path / "o")
    with pytest.raises(SourceError, match="does not exist"):
        runner.run(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match="--checkpoint-dir"):
        runner.run(tmp_path / "missing.jsonl", resume=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "checkpoint.pkl").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="cannot be read"):
        EmbeddedRunner(default_topology(), tmp_path / "o", None, tmp_path / "c").run(
            tmp_path / "x", resume=True)
    with pytest.raises(ConfigError, match="out_of_orderness_ms"):
        RunnerConfig(out_of_orderness_ms=-1)
