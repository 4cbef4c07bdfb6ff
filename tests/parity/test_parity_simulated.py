"""The default pipeline on every runner (see ``test_parity.py``) over a simulated input
delivered out of order beyond the watermark bound (late events) with malformed lines
(dead letters) and catalog changes (some minutes behind the watermark: never late),
compared per key as multisets with the in-memory test kit
(:func:`shopstream.runners.embedded.harness.run_topology`) for every output stream."""

from __future__ import annotations

import warnings
from pathlib import Path

import msgspec
import pytest
from parity_kit import (
    SIM_STREAMS,
    ParityRunner,
    add_catalog_changes,
    expected_lines,
    parity_topology,
    per_key,
)

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.sim import SimulationConfig, write_jsonl


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
