"""Simulator output: determinism, malformed lines, ISO timestamps, live pacing."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from shopstream.errors import ConfigError, DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.model import parse_timestamp_ms
from shopstream.sim import (
    BadKind,
    SimulationConfig,
    generate_events,
    generate_lines,
    write_jsonl,
)
from shopstream.sim.writer import SimulationSummary

END_MS = 1_717_200_000_000


def _bytes(**kwargs: object) -> bytes:
    out = io.BytesIO()
    write_jsonl(SimulationConfig(**kwargs), out)  # type: ignore[arg-type]
    return out.getvalue()


def test_same_seed_gives_identical_bytes_different_seed_does_not() -> None:
    first = _bytes(sessions=300, seed=7, end_ms=END_MS, days=1.0)
    assert first == _bytes(sessions=300, seed=7, end_ms=END_MS, days=1.0)
    assert first != _bytes(sessions=300, seed=8, end_ms=END_MS, days=1.0)
    assert first.count(b"\n") > 1000


def test_determinism_holds_with_every_option() -> None:
    options = {"sessions": 200, "seed": 3, "end_ms": END_MS, "bad_rate": 0.1,
               "disorder_ms": 2_000, "iso_timestamp_rate": 0.1}
    assert _bytes(**options) == _bytes(**options)


def test_lines_match_the_events_api() -> None:
    cfg = SimulationConfig(sessions=100, seed=4, end_ms=END_MS)
    events = list(generate_events(cfg))
    lines = _bytes(sessions=100, seed=4, end_ms=END_MS).splitlines()
    decoder = EventDecoder()
    assert [decoder.decode(line) for line in lines] == events


def test_every_bad_kind_appears_and_is_rejected_while_good_lines_decode() -> None:
    cfg = SimulationConfig(sessions=400, seed=11, end_ms=END_MS, bad_rate=0.1)
    decoder = EventDecoder()
    good, bad = [], []
    for line in generate_lines(cfg):
        line.decode("utf-8")  # bad lines are still text
        try:
            good.append(decoder.decode(line))
        except DecodeError:
            bad.append(line)
    assert all(e.event_id.startswith("e-11-") for e in good)
    share = len(bad) / (len(good) + len(bad))
    assert 0.07 < share < 0.13
    kinds = Counter(_classify(line) for line in bad)
    assert set(kinds) == set(BadKind), kinds
    assert min(kinds.values()) >= 10


def _classify(line: bytes) -> BadKind:
    """Recognise the kind of a bad line from its content alone."""
    try:
        fields = json.loads(line)
    except json.JSONDecodeError:
        return BadKind.TRUNCATED if line.startswith(b'{"') else BadKind.NOT_JSON
    if not isinstance(fields, dict):
        return BadKind.NOT_JSON
    assert fields["eventId"].startswith("b-11-")
    if "eventType" not in fields:
        return BadKind.MISSING_EVENT_TYPE
    if "sessionId" not in fields:
        return BadKind.MISSING_SESSION_ID
    if "timestamp" not in fields:
        return BadKind.MISSING_TIMESTAMP
    if isinstance(fields["timestamp"], str):
        with pytest.raises(ValueError):
            parse_timestamp_ms(fields["timestamp"])
        return BadKind.UNPARSEABLE_TIMESTAMP
    if isinstance(fields.get("price"), float) and fields["price"] < 0:
        return BadKind.NEGATIVE_PRICE
    if isinstance(fields.get("quantity"), str):
        return BadKind.NON_NUMERIC_QUANTITY
    return BadKind.UNKNOWN_EVENT_TYPE


def test_bad_lines_leave_the_good_events_unchanged() -> None:
    clean = _bytes(sessions=150, seed=2, end_ms=END_MS)
    noisy = _bytes(sessions=150, seed=2, end_ms=END_MS, bad_rate=0.2)
    decoder = EventDecoder()
    kept = []
    for line in noisy.splitlines():
        try:
            decoder.decode(line)
        except DecodeError:
            continue
        kept.append(line)
    assert kept == clean.splitlines()


def test_iso_timestamps_are_mixed_in_and_decode_to_the_same_instant() -> None:
    plain = list(generate_events(SimulationConfig(sessions=300, seed=6, end_ms=END_MS)))
    lines = list(generate_lines(SimulationConfig(sessions=300, seed=6, end_ms=END_MS,
                                                 iso_timestamp_rate=0.2)))
    iso = [line for line in lines if b'"timestamp":"' in line]
    assert 0.15 < len(iso) / len(lines) < 0.25
    decoder = EventDecoder()
    assert [decoder.decode(line) for line in lines] == plain
    assert all(b"Z\"" in line for line in iso)


def test_no_iso_timestamps_unless_asked() -> None:
    assert b'"timestamp":"' not in _bytes(sessions=300, seed=6, end_ms=END_MS)


def test_file_output_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    summary = write_jsonl(SimulationConfig(sessions=50, seed=1, end_ms=END_MS,
                                           bad_rate=0.05), path, progress=False)
    data = path.read_bytes()
    assert summary.lines == data.count(b"\n") == summary.events + summary.bad_lines
    assert summary.sessions == 50 and summary.output == str(path)
    assert summary.bad_lines > 0 and not summary.interrupted
    assert "from 50 sessions" in summary.describe()


def test_unwritable_output_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be opened"):
        write_jsonl(SimulationConfig(sessions=1), tmp_path / "missing" / "x.jsonl")


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.naps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def test_live_mode_paces_lines_and_stamps_them_with_the_wall_clock() -> None:
    clock = _FakeClock()
    out = io.BytesIO()
    cfg = SimulationConfig(sessions=20, seed=9, rate=100.0)
    summary = write_jsonl(cfg, out, sleep=clock.sleep, now=clock.time)
    lines = out.getvalue().splitlines()
    assert summary.lines == len(lines) > 50
    # 100 lines per second: the last line is due (n - 1) / 100 s after the first.
    assert clock.now - 1_800_000_000.0 == pytest.approx((len(lines) - 1) / 100, abs=0.02)
    # The fake clock is in 2027: no ingest-clock check against the real one.
    decoder = EventDecoder(InputLimits(max_ahead_ms=None))
    stamps = [decoder.decode(line).timestamp_ms for line in lines]
    assert stamps == sorted(stamps)
    assert stamps[0] == 1_800_000_000_000 and stamps[-1] <= clock.now * 1000


def test_live_mode_stops_cleanly_on_ctrl_c() -> None:
    calls = 0

    def sleep(_: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt

    out = io.BytesIO()
    summary = write_jsonl(SimulationConfig(sessions=50, seed=1, rate=10.0), out,
                          sleep=sleep, now=lambda: 1_800_000_000.0)
    assert summary.interrupted
    assert summary.lines == out.getvalue().count(b"\n") > 0
    assert summary.sessions <= 50


def test_summary_line() -> None:
    text = SimulationSummary(10, 2, 1, 0, "-", 0.0).describe()
    assert text.startswith("wrote 11 lines (10 events, 1 bad) from 2 sessions to -")
