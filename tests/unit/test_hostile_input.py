"""Hostile input through the file door (issue 18): every kind of bad line is a dead letter
with its reason, no valid line is lost or made late, and no line costs more than its size."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import DAY, HOSTILE, HOUR, T0, hostile_stream, line, valid_lines

from shopstream.connectors.files import JsonlSource
from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import YEAR_2000_MS, InputLimits
from shopstream.events.records import DeadLetter
from shopstream.operators.rules import RuleMiningOperator, RulesStreamConfig
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

#: Refused by a replay's own progress, not by the decoder alone.
PROGRESS_ONLY = {name for name in HOSTILE if "ahead of the stream" in name
                 or name == "timestamp a day ahead, as ISO"}
STRICT = InputLimits(min_timestamp_ms=YEAR_2000_MS)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shopstream.cli", "run", "--no-progress",
                           "--json", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def raw_of(letter: dict[str, object]) -> bytes:
    raw = str(letter["raw"])
    return base64.b64decode(raw) if letter.get("rawEncoding") == "base64" else raw.encode()


def test_the_suite_has_at_least_80_kinds() -> None:
    assert len(HOSTILE) >= 80


@pytest.mark.parametrize("name", sorted(set(HOSTILE) - PROGRESS_ONLY))
def test_the_decoder_refuses_each_kind_with_a_decode_error_only(name: str) -> None:
    raw = HOSTILE[name](T0)
    with pytest.raises(DecodeError) as caught:
        EventDecoder(STRICT).decode(raw)
    assert str(caught.value)
    assert caught.value.stage in ("decode", "validate", "limit")


def test_valid_lines_of_every_shape_decode() -> None:
    decoder = EventDecoder(STRICT)
    for n in range(10):
        for raw in valid_lines(T0, n):
            decoder.decode(raw)


def test_shopstream_run_refuses_every_hostile_line_and_keeps_every_valid_one(
        tmp_path: Path) -> None:
    data, hostile, valid = hostile_stream()
    (tmp_path / "hostile.jsonl").write_bytes(data)
    clean = b"".join(raw + b"\n" for raw in data.splitlines() if raw not in set(hostile))
    (tmp_path / "clean.jsonl").write_bytes(clean)
    attacked = run_cli("--input", str(tmp_path / "hostile.jsonl"),
                       "--output-dir", str(tmp_path / "attacked"))
    assert attacked.returncode == 0, attacked.stderr
    assert "Traceback" not in attacked.stderr
    summary = json.loads(attacked.stdout)
    assert summary["dead_letters"] == len(hostile)
    assert summary["events"] == valid
    assert summary["late_events"] == 0
    letters = [json.loads(x) for x in
               (tmp_path / "attacked" / "dead-letter.jsonl").read_text().splitlines()]
    # An over-long line is kept up to one byte over the limit, never held whole.
    kept = [h.strip()[:1_048_577] for h in hostile]
    assert [raw_of(d) for d in letters] == kept
    for name, letter in zip(HOSTILE, letters, strict=True):
        assert letter["reason"], name
        assert letter["stage"] in ("decode", "validate", "limit"), name
        assert letter["offset"] > 0, name
    # The valid lines came out exactly as they do without the hostile ones around them.
    reference = run_cli("--input", str(tmp_path / "clean.jsonl"),
                        "--output-dir", str(tmp_path / "clean"))
    assert reference.returncode == 0, reference.stderr
    for path in sorted((tmp_path / "clean").glob("*.jsonl")):
        if path.name != "dead-letter.jsonl":
            assert (tmp_path / "attacked" / path.name).read_bytes() == path.read_bytes(), \
                path.name


def test_the_issue_examples_reproduce_no_more(tmp_path: Path) -> None:
    deep = ('{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":1700000000000,"x":'
            + "[" * 1000 + "]" * 1000 + "}").encode()
    big = line(eventType="PURCHASE", sessionId="s", timestamp=T0 + 5,
               items=[{"productId": f"p{i}"} for i in range(10_000)])
    lines = [line(eventType="PAGE_VIEW", sessionId=f"s{i}", timestamp=T0 + i * 1000)
             for i in range(2_000)]
    lines[1_000:1_000] = [deep, big, line(eventType="PAGE_VIEW", sessionId="evil",
                                          timestamp=T0 + 1_000_000 + DAY)]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    done = run_cli("--input", str(tmp_path / "in.jsonl"), "--output-dir", str(tmp_path / "o"),
                   "--no-recommendations")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["events"], summary["dead_letters"], summary["late_events"]) == (2_000, 3, 0)


def _runner_on(tmp_path: Path, lines: list[bytes], limits: InputLimits | None = None,
               ) -> tuple[int, int, int]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    summary = EmbeddedRunner(default_topology(), tmp_path / "out",
                             limits=limits).run(tmp_path / "in.jsonl")
    return summary.events, summary.dead_letters, summary.late_events


def _views(start: int, count: int, step: int = 1_000) -> list[bytes]:
    return [line(eventType="PAGE_VIEW", sessionId=f"s{i % 5}", timestamp=start + i * step)
            for i in range(count)]


def test_a_real_gap_in_a_replay_is_accepted_once_confirmed(tmp_path: Path) -> None:
    lines = _views(T0, 50) + _views(T0 + 2 * DAY, 50)
    assert _runner_on(tmp_path, lines) == (100, 0, 0)


def test_sparse_data_and_a_gap_just_before_the_end_are_accepted(tmp_path: Path) -> None:
    sparse = _views(T0, 20, step=3 * HOUR)
    assert _runner_on(tmp_path / "a", sparse) == (20, 0, 0)
    tail = _views(T0, 30) + _views(T0 + DAY, 3)
    assert _runner_on(tmp_path / "b", tail) == (33, 0, 0)


def test_noise_ahead_of_a_replay_is_refused_and_moves_no_watermark(tmp_path: Path) -> None:
    lines = _views(T0, 40)
    lines[20:20] = _views(T0 + DAY, 3)   # three lines a day ahead, then the stream goes on
    assert _runner_on(tmp_path, lines) == (40, 3, 0)
    letters = (tmp_path / "out" / "dead-letter.jsonl").read_text().splitlines()
    assert all("ahead of the newest accepted event time" in x for x in letters)


def test_the_window_can_be_widened_or_switched_off(tmp_path: Path) -> None:
    lines = _views(T0, 10)
    lines[5:5] = _views(T0 + 2 * HOUR, 1)
    assert _runner_on(tmp_path / "a", lines, InputLimits(max_ahead_ms=3 * HOUR)) == (11, 0, 5)
    assert _runner_on(tmp_path / "b", lines, InputLimits(max_ahead_ms=None)) == (11, 0, 5)


def test_dead_letters_keep_the_original_bytes() -> None:
    raw = b'{"eventType":"PAGE_VIEW","sessionId":"\xff","timestamp":1}'
    letter = DeadLetter.of_bytes("decode", "not UTF-8", raw, "in", 3)
    assert letter.raw_encoding == "base64"
    assert base64.b64decode(letter.raw) == raw
    assert DeadLetter.of_bytes("decode", "x", "café".encode(), "in", 3).raw == "café"


def test_a_utf8_bom_is_stripped_and_the_line_accepted() -> None:
    event = EventDecoder().decode(b"\xef\xbb\xbf" + line(eventType="PAGE_VIEW", sessionId="s",
                                                           timestamp=T0))
    assert event.timestamp_ms == T0


def test_unexpected_decoder_failures_become_decode_errors() -> None:
    def broken() -> float:
        raise OverflowError("clock")
    with pytest.raises(DecodeError, match="OverflowError"):
        EventDecoder(clock=broken).decode(line(eventType="PAGE_VIEW", sessionId="s",
                                               timestamp=T0))


def test_the_clock_check_refuses_what_is_ahead_of_the_ingest_clock() -> None:
    decoder = EventDecoder(clock=lambda: T0 / 1000)
    decoder.decode(line(eventType="PAGE_VIEW", sessionId="s", timestamp=T0 + HOUR))
    with pytest.raises(DecodeError, match="ahead of the ingest clock"):
        decoder.decode(line(eventType="PAGE_VIEW", sessionId="s", timestamp=T0 + HOUR + 1))


def test_a_huge_purchase_costs_linear_time_when_the_limit_lets_it_in(tmp_path: Path) -> None:
    roomy = InputLimits(max_items=20_000, max_line_bytes=10_000_000)

    def seconds(n: int) -> float:
        items = [{"productId": f"p{i}", "price": 1.0} for i in range(n)]
        lines = [line(eventType="ADD_TO_CART", sessionId="s", timestamp=T0, productId="p0"),
                 line(eventType="PURCHASE", sessionId="s", timestamp=T0 + 1, items=items)]
        started = time.perf_counter()
        assert _runner_on(tmp_path / str(n), lines, roomy) == (2, 0, 0)
        return time.perf_counter() - started

    # Before: 200 items 11 s, 400 items over 60 s, 10,000 never finished (cubic).
    assert seconds(10_000) < 30


def test_the_rule_miner_keeps_a_bounded_number_of_items_per_basket() -> None:
    assert RuleMiningOperator().config.max_basket_items == 50
    with pytest.raises(ValueError, match="max_basket_items"):
        RulesStreamConfig(max_basket_items=0)


def test_an_over_long_line_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    long_line = line(eventType="PAGE_VIEW", sessionId="s", timestamp=T0, x="a" * 100_000)
    lines = [*_views(T0, 3), long_line, *_views(T0 + 3_000, 3)]
    assert _runner_on(tmp_path, lines, InputLimits(max_line_bytes=1_000)) == (6, 1, 0)
    letter = json.loads((tmp_path / "out" / "dead-letter.jsonl").read_text())
    assert letter["raw"].encode() == long_line[:1_001]
    assert "max_line_bytes=1000" in letter["reason"]


def _crash_after(path: Path, limits: InputLimits, lines: int,
                 ) -> Iterator[tuple[bytes, int]]:
    for n, item in enumerate(JsonlSource(path, max_line_bytes=limits.max_line_bytes), start=1):
        if n > lines:
            raise KeyboardInterrupt  # stands in for a kill
        yield item


@pytest.mark.parametrize("crash_at", [3, 10, 22, 23, 24, 40, 61])
def test_a_run_killed_among_hostile_lines_resumes_to_the_same_output(
        tmp_path: Path, crash_at: int) -> None:
    lines = _views(T0, 60)
    lines[10:10] = [HOSTILE["deep arrays in an ignored field (1,000)"](T0)]
    lines[20:20] = _views(T0 + DAY, 3)  # held, then refused when the stream goes on
    lines[40:40] = [HOSTILE["duplicate eventType"](T0 + 40_000)]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    config = RunnerConfig(checkpoint_every_events=2, out_of_orderness_ms=1_000)
    limits = InputLimits()
    EmbeddedRunner(default_topology(), tmp_path / "whole", config).run(src)
    runner = EmbeddedRunner(default_topology(), tmp_path / "out", config, tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        runner.run(src, source=_crash_after(src, limits, crash_at))
    summary = EmbeddedRunner(default_topology(), tmp_path / "out", config,
                             tmp_path / "ckpt").run(src, resume=True)
    whole = {p.name: p.read_bytes() for p in (tmp_path / "whole").glob("*.jsonl")}
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").glob("*.jsonl")} == whole
    assert (summary.dead_letters, summary.late_events) == (5, 0)
