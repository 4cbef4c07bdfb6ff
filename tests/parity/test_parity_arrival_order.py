"""Arrival order within the watermark bound changes nothing, on every runner (see
``test_parity.py``): the same input sorted and shuffled gives the same outputs per key."""

from __future__ import annotations

from pathlib import Path

import pytest
from parity_kit import SIM_STREAMS, ParityRunner

from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.sim import SimulationConfig, write_jsonl


@pytest.fixture(scope="session")
def in_and_out_of_order(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 300 sessions twice: sorted by event time, and shuffled within 4 s (inside
    the 5 s bound, so nothing is late)."""
    import random

    base = tmp_path_factory.mktemp("parity-order")
    source = base / "source.jsonl"
    write_jsonl(SimulationConfig(sessions=300, seed=21, end_ms=1_767_600_000_000), source,
                progress=False)
    decode = EventDecoder().decode
    timed = [(decode(raw).timestamp_ms, raw) for raw in source.read_bytes().splitlines()]
    in_order = base / "sorted.jsonl"
    in_order.write_bytes(b"".join(raw + b"\n" for _, raw in sorted(timed, key=lambda t: t[0])))
    rng = random.Random(3)
    delayed = sorted(timed, key=lambda t: t[0] + rng.randrange(4_000))
    shuffled = base / "shuffled.jsonl"
    shuffled.write_bytes(b"".join(raw + b"\n" for _, raw in delayed))
    return in_order, shuffled


@pytest.mark.parametrize("stream", [s for s in SIM_STREAMS if s != streams.DEAD_LETTER])
def test_arrival_order_within_the_bound_changes_nothing(
        runner: ParityRunner, in_and_out_of_order: tuple[Path, Path], stream: str) -> None:
    in_order, shuffled = in_and_out_of_order
    expected = runner.run("sorted", in_order)
    produced = runner.run("shuffled", shuffled)
    assert produced.per_key(stream) == expected.per_key(stream)
    if stream == streams.BASKET_COMPLETIONS:
        assert expected.lines(stream), "the input must complete baskets to prove anything"
