"""One conformance suite, every runner: the same inputs give the same outputs per key.

Two kinds of evidence, each run on the embedded runner and on Flink at parallelism 1
and 2 (the ``runner`` fixture):

* golden streams: the hand-checked inputs and expected outputs of ``tests/golden`` for
  every operator the Flink runner runs (baskets, abandonment, fraud, revenue, top
  products), compared per key as multisets;
* a simulated input delivered out of order beyond the watermark bound (late events) with
  malformed lines (dead letters), compared per key as multisets with the in-memory test
  kit (:func:`shopstream.runners.embedded.harness.run_topology`) for every output stream.
"""

from __future__ import annotations

import collections
from pathlib import Path

import msgspec
import pytest
from parity_kit import ParityRunner, parity_topology, per_key

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.runners.embedded.harness import run_topology
from shopstream.sim import SimulationConfig, write_jsonl

GOLDEN = Path(__file__).parent.parent / "golden" / "data"

#: (golden case, stream): the operator behind each stream, checked on its own input.
GOLDEN_CASES = [
    ("baskets", streams.BASKET_COMPLETIONS),
    ("baskets", streams.ABANDONED_BASKETS),
    ("baskets", streams.LATE_EVENTS),
    ("baskets", streams.DEAD_LETTER),
    ("abandonment", streams.CART_ABANDONMENT),
    ("fraud", streams.FRAUD_ALERTS),
    ("revenue", streams.REVENUE_STATS),
    ("top-products", streams.TOP_PRODUCTS),
]

#: Every stream the parity topology writes, plus the runner's own.
SIM_STREAMS = [*parity_topology().sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS]


@pytest.mark.parametrize(("case", "stream"), GOLDEN_CASES,
                         ids=[f"{c}:{s}" for c, s in GOLDEN_CASES])
def test_golden_stream_per_key(runner: ParityRunner, case: str, stream: str) -> None:
    source = GOLDEN / case / "input.jsonl"
    outputs = runner.run(f"golden-{case}", source)
    produced = [line.replace(str(source), "input.jsonl") for line in outputs.lines(stream)]
    expected = (GOLDEN / case / f"expected-{stream}.jsonl").read_text().splitlines()
    assert expected, f"golden {case}/{stream} is empty: nothing would be compared"
    assert per_key(produced, stream) == per_key(expected, stream)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2,000 lines over 400 sessions, up to 8 s out of order (the bound is 5 s, so
    some arrive late) and 2 % malformed."""
    path = tmp_path_factory.mktemp("parity-input") / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=400, seed=14, end_ms=1_767_600_000_000,
                                 disorder_ms=8_000, bad_rate=0.02), path, progress=False)
    return path


@pytest.fixture(scope="session")
def expected_sim(simulated: Path) -> dict[str, list[str]]:
    """The test kit's outputs for the simulated input, as the files would hold them."""
    decode = EventDecoder().decode
    events = []
    for raw in simulated.read_bytes().splitlines():
        try:
            events.append(decode(raw))
        except DecodeError:
            continue
    encode = msgspec.json.Encoder().encode
    lines: dict[str, list[str]] = collections.defaultdict(list)
    for out in run_topology(parity_topology(), events):
        lines[out.stream].append(encode(out.record).decode())
    return lines


@pytest.mark.parametrize("stream", SIM_STREAMS)
def test_simulated_stream_per_key(runner: ParityRunner, simulated: Path,
                                  expected_sim: dict[str, list[str]], stream: str) -> None:
    outputs = runner.run("simulated", simulated)
    if stream == streams.DEAD_LETTER:
        # Offsets and reasons are checked by the golden case; here: none lost, none made.
        assert len(outputs.lines(stream)) == _undecodable(simulated)
        return
    assert per_key(outputs.lines(stream), stream) == per_key(expected_sim[stream], stream)


def test_simulated_input_exercises_the_contract(expected_sim: dict[str, list[str]]) -> None:
    """The simulated input is only evidence if it reaches every operator and the edges."""
    for stream in (streams.BASKET_COMPLETIONS, streams.ABANDONED_BASKETS,
                   streams.CART_ABANDONMENT, streams.REVENUE_STATS, streams.TOP_PRODUCTS,
                   streams.BASKET_PATTERNS, streams.RULES_BY_ANTECEDENT, streams.FRAUD_ALERTS,
                   streams.LATE_EVENTS):
        assert expected_sim[stream], stream


def _undecodable(path: Path) -> int:
    decode = EventDecoder().decode
    count = 0
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            decode(raw)
        except DecodeError:
            count += 1
    return count


def test_flink_rejects_broadcast_stages_in_one_line(tmp_path: Path) -> None:
    from shopstream.pipeline import default_topology
    from shopstream.runners.flink import FlinkRunner, FlinkUnsupportedError

    with pytest.raises(FlinkUnsupportedError, match="broadcast inputs") as info:
        FlinkRunner(default_topology(), tmp_path)
    assert "\n" not in str(info.value)


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


def test_cli_engine_flink_says_what_it_cannot_do_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shopstream.cli import main

    source = GOLDEN / "baskets" / "input.jsonl"
    base = ["run", "--engine", "flink", "--input", str(source),
            "--output-dir", str(tmp_path / "out")]
    for extra, needle in ((["--no-recommendations", "--store", str(tmp_path / "f.db")],
                           "does not support --store"),
                          (["--no-recommendations", "--resume", "--checkpoint-dir",
                            str(tmp_path)], "no complete Flink checkpoint"),
                          ([], "broadcast inputs")):
        assert main([*base, *extra]) != 0
        err = capsys.readouterr().err.strip()
        assert needle in err
        assert len(err.splitlines()) == 1, err
