"""One conformance suite, every runner: the same inputs give the same outputs per key.

Two kinds of evidence, each run on the embedded runner and on Flink at parallelism 1
and 2 (the ``runner`` fixture):

* golden streams: the hand-checked inputs and expected outputs of ``tests/golden`` for
  every operator of the default pipeline (baskets, abandonment, fraud, revenue, top
  products, and the recommender's trending, learning, list publishing and per-shopper
  stages with their broadcast inputs), compared per key as multisets;
* the default pipeline on a simulated input delivered out of order beyond the watermark
  bound (late events) with malformed lines (dead letters) and catalog changes (some
  minutes behind the watermark: never late), compared per key as multisets with the
  in-memory test kit (:func:`shopstream.runners.embedded.harness.run_topology`) for every
  output stream;
* the same input sorted and shuffled within the bound gives the same outputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import msgspec
import pytest
from parity_kit import (
    ParityRunner,
    add_catalog_changes,
    expected_lines,
    golden_recommendation_topology,
    parity_topology,
    per_key,
)

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
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
    ("recommendations", streams.PRODUCT_RECOMMENDATIONS),
    ("recommendations", streams.TRENDING_PRODUCTS),
    ("recommendations", streams.RECOMMENDATION_MODELS),
]

#: Golden cases run with their own topology (default: :func:`parity_topology`).
GOLDEN_TOPOLOGIES = {"recommendations": golden_recommendation_topology}

#: Every stream the parity topology writes, plus the runner's own.
SIM_STREAMS = [*parity_topology().sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS]


@pytest.mark.parametrize(("case", "stream"), GOLDEN_CASES,
                         ids=[f"{c}:{s}" for c, s in GOLDEN_CASES])
def test_golden_stream_per_key(runner: ParityRunner, case: str, stream: str) -> None:
    source = GOLDEN / case / "input.jsonl"
    topology = GOLDEN_TOPOLOGIES[case]() if case in GOLDEN_TOPOLOGIES else None
    outputs = runner.run(f"golden-{case}", source, topology)
    produced = [line.replace(str(source), "input.jsonl") for line in outputs.lines(stream)]
    expected = (GOLDEN / case / f"expected-{stream}.jsonl").read_text().splitlines()
    assert expected, f"golden {case}/{stream} is empty: nothing would be compared"
    assert per_key(produced, stream) == per_key(expected, stream)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2,000 lines over 400 sessions, up to 8 s out of order (the bound is 5 s, so
    some arrive late), 2 % malformed, and a dozen catalog changes taking the most viewed
    products out of stock and back."""
    path = tmp_path_factory.mktemp("parity-input") / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=400, seed=14, end_ms=1_767_600_000_000,
                                 disorder_ms=8_000, bad_rate=0.02), path, progress=False)
    add_catalog_changes(path)
    return path


@pytest.fixture(scope="session")
def expected_sim(simulated: Path) -> dict[str, list[str]]:
    """The test kit's outputs for the simulated input, as the files would hold them."""
    return expected_lines(simulated, parity_topology())


@pytest.mark.parametrize("stream", SIM_STREAMS)
def test_simulated_stream_per_key(runner: ParityRunner, simulated: Path,
                                  expected_sim: dict[str, list[str]], stream: str) -> None:
    outputs = runner.run("simulated", simulated)
    if stream == streams.DEAD_LETTER:
        # Offsets and reasons are checked by the golden case; here: none lost, none made.
        assert len(outputs.lines(stream)) == _undecodable(simulated)
        return
    assert per_key(outputs.lines(stream), stream) == per_key(expected_sim[stream], stream)


@pytest.mark.flink
@pytest.mark.slow
def test_simulated_stream_with_all_state_in_flink(
        simulated: Path, expected_sim: dict[str, list[str]], tmp_path: Path) -> None:
    """The path a snapshotted job takes (the event-time buffer in Flink map state, values
    written to Flink at the end of each call), which the ``runner`` fixture's local jobs
    skip by holding hot state in Python: the same outputs per key, at parallelism 2."""
    from conftest import _flink_missing

    reason = _flink_missing()
    if reason:
        pytest.skip(reason)
    from shopstream.runners.flink import FlinkConfig, FlinkRunner

    with warnings.catch_warnings():
        # PyFlink and its Beam dependency warn on import (as in parity_kit).
        warnings.simplefilter("ignore")
        FlinkRunner(parity_topology(), tmp_path, FlinkConfig(
            parallelism=2, hold_in_python=False)).run(simulated)
    for stream in SIM_STREAMS:
        path = tmp_path / f"{stream}.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        if stream == streams.DEAD_LETTER:
            assert len(lines) == _undecodable(simulated)
            continue
        assert per_key(lines, stream) == per_key(expected_sim[stream], stream), stream


def test_simulated_input_exercises_the_contract(expected_sim: dict[str, list[str]]) -> None:
    """The simulated input is only evidence if it reaches every operator and the edges."""
    for stream in (streams.BASKET_COMPLETIONS, streams.ABANDONED_BASKETS,
                   streams.CART_ABANDONMENT, streams.REVENUE_STATS, streams.TOP_PRODUCTS,
                   streams.BASKET_PATTERNS, streams.RULES_BY_ANTECEDENT, streams.FRAUD_ALERTS,
                   streams.LATE_EVENTS, streams.PRODUCT_RECOMMENDATIONS,
                   streams.TRENDING_PRODUCTS, streams.CATALOG_CHANGES):
        assert expected_sim[stream], stream
    # Every broadcast input reaches the recommender: lists from trending, from the models
    # and from the rules, and the catalog keeps out-of-stock products out.
    recs = [msgspec.json.decode(line) for line in expected_sim[streams.PRODUCT_RECOMMENDATIONS]]
    sources = {s for rec in recs for s in rec["context"]["sources"]}
    assert {"TRENDING", "BASKET_BASED"} <= sources, sources
    assert sources - {"TRENDING", "BASKET_BASED", "POPULAR"}, sources
    changes = [msgspec.json.decode(line) for line in expected_sim[streams.CATALOG_CHANGES]]
    # Stamped up to 3 minutes behind or 2 s ahead of the events around them (see
    # add_catalog_changes): between those bounds, an out-of-stock product is never shown.
    gone = {c["productId"]: c["timestamp"] + 185_000 for c in changes if c["quantity"] == 0}
    back = {c["productId"]: c["timestamp"] - 185_000 for c in changes if c["quantity"]}
    assert len(gone) == len(back) > 0
    shown = [rec for rec in recs for p in rec["recommendedProducts"]
             if p in gone and gone[p] < rec["timestamp"] < back[p]]
    assert not shown, shown[:1]


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


def test_flink_says_what_it_cannot_run_in_one_line(tmp_path: Path) -> None:
    from shopstream.runners.flink import FlinkRunner, FlinkUnsupportedError
    from shopstream.topology import Stage, Topology

    topology = parity_topology()
    learner = Stage(topology.stages[-1].operator, (streams.BASKET_COMPLETIONS,),
                    lambda _: "all", broadcast_inputs=(streams.EVENTS,))
    with pytest.raises(FlinkUnsupportedError, match="does not broadcast events") as info:
        FlinkRunner(Topology((*topology.stages[:-1], learner), ()), tmp_path)
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
    for extra, needle in ((["--store", str(tmp_path / "f.db")], "does not support --store"),
                          (["--resume", "--checkpoint-dir", str(tmp_path)],
                           "no complete Flink checkpoint")):
        assert main([*base, *extra]) != 0
        err = capsys.readouterr().err.strip()
        assert needle in err
        assert len(err.splitlines()) == 1, err
