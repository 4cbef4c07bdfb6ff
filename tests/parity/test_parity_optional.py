"""The pipeline's optional stages on every runner: trends, live-shopper features and
customer profiles (identity resolution, profiles, segment counts), on one small simulated
input, compared per key as multisets with the in-memory test kit.

The stateless ``trend-activity`` stage is declared order-free here
(``event_time_order=False``): Flink then hands it each element on arrival, beside the
operators of its fused group that wait for event-time order; outputs must not change.
One input and one job per runner keep the Flink part of this file to two jobs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from parity_kit import ParityRunner, expected_lines, per_key

from shopstream.events import streams
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.profiles.trends import TrendsConfig
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.topology import Topology

#: The streams only these stages write.
OPTIONAL_STREAMS = (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS, streams.SHOPPER_FEATURES,
                    streams.PROFILES, streams.SEGMENT_CHANGES, streams.SEGMENT_COUNTS)


def optional_topology() -> Topology:
    """Baskets and abandonment (their keyed group takes the order-free stage), and every
    optional stage; no recommender, fraud or global aggregates (the main suite has them)."""
    full = default_topology(PipelineConfig(
        recommendations=None, trends=TrendsConfig(), features=FeaturesConfig(),
        profiles=ProfilesConfig()))
    kept = [dataclasses.replace(stage, event_time_order=False)
            if stage.name == "trend-activity" else stage
            for stage in full.stages
            if stage.name not in ("fraud", "revenue-partials", "top-products-partials",
                                  "revenue", "top-products", "rules")]
    assert any(not stage.event_time_order for stage in kept)
    # No stage left writing a stream nobody reads (the partials once were, without merge).
    read = {name for stage in kept for name in stage.inputs} | set(OPTIONAL_STREAMS)
    unread = [stage.name for stage in kept
              if getattr(stage.operator, "stream", None) not in (None, *read)]
    assert not unread, unread
    return Topology(tuple(kept), OPTIONAL_STREAMS)


@pytest.fixture(scope="session")
def optional_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 750 lines over 150 sessions, up to 8 s out of order (some late), 2 %
    malformed."""
    path = tmp_path_factory.mktemp("parity-optional") / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=150, seed=33, end_ms=1_767_600_000_000,
                                 disorder_ms=8_000, bad_rate=0.02), path, progress=False)
    return path


@pytest.fixture(scope="session")
def expected_optional(optional_input: Path) -> dict[str, list[str]]:
    return expected_lines(optional_input, optional_topology())


def test_optional_stages_per_key(runner: ParityRunner, optional_input: Path,
                                 expected_optional: dict[str, list[str]]) -> None:
    if runner.name == "flink-2":
        pytest.skip("the optional stages run on Flink at parallelism 1 only (test time); "
                    "the main suite runs parallelism 2")
    outputs = runner.run("optional", optional_input, optional_topology())
    differ = [stream for stream in OPTIONAL_STREAMS
              if outputs.per_key(stream) != per_key(expected_optional[stream], stream)]
    assert not differ, {s: (len(outputs.lines(s)), len(expected_optional[s])) for s in differ}
    for stream in OPTIONAL_STREAMS:
        assert expected_optional[stream], f"{stream}: the input must reach every stage"
