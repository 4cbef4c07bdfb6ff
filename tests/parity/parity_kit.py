"""The parity test kit: run a topology on one engine and read its outputs per key."""

from __future__ import annotations

import collections
import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.events.model import ShopperEvent
from shopstream.operators.rules import RulesStreamConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.harness import run_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig
from shopstream.topology import Topology

RUNNERS = ("embedded", "flink-1", "flink-2")

#: The golden cases of ``tests/golden``: each input with the expected output per stream.
GOLDEN = Path(__file__).parent.parent / "golden" / "data"


def parity_topology() -> Topology:
    """The default pipeline (the recommender and its broadcast inputs included) with the
    per-device fraud stage on, and rules published from 50 baskets (not 1,000) so that
    small inputs exercise the rule miner. A new one each call: operators keep what they
    read from broadcasts in attributes, so two runs must not share them."""
    return default_topology(PipelineConfig(fraud_by_device=True,
                                           rules=RulesStreamConfig(min_baskets=50)))


def golden_recommendation_topology() -> Topology:
    """The topology of ``tests/golden/test_golden_recommendations.py``: the recommender's
    stages alone, publishing every minute."""
    from shopstream.operators.recommendations import RecommendationsConfig
    from shopstream.pipeline import recommendation_stages
    from shopstream.recommend.base import NEXT_ITEM, POPULAR
    from shopstream.recommend.blend import BlendConfig
    from shopstream.recommend.suite import RecommendConfig
    from shopstream.recommend.trending import TrendingConfig

    config = RecommendationsConfig(recommend=RecommendConfig(
        blend=BlendConfig(weights=((NEXT_ITEM, 1.0),), fallback=(POPULAR,), variant="golden"),
        trending=TrendingConfig(window_ms=120_000, slide_ms=60_000), k=3,
        publish_every_ms=60_000))
    return Topology(recommendation_stages(config), sink_streams=(
        streams.PRODUCT_RECOMMENDATIONS, streams.TRENDING_PRODUCTS,
        streams.RECOMMENDATION_MODELS))


def check_golden_stream(runner: ParityRunner, case: str, stream: str,
                        topology: Topology | None = None) -> None:
    """``runner``'s output of ``stream`` on the golden input of ``case`` equals the golden
    expected output per key (as multisets)."""
    source = GOLDEN / case / "input.jsonl"
    outputs = runner.run(f"golden-{case}", source, topology)
    produced = [line.replace(str(source), "input.jsonl") for line in outputs.lines(stream)]
    expected = (GOLDEN / case / f"expected-{stream}.jsonl").read_text().splitlines()
    assert expected, f"golden {case}/{stream} is empty: nothing would be compared"
    assert per_key(produced, stream) == per_key(expected, stream)


def read_events(path: Path) -> tuple[list[bytes], list[int], list[ShopperEvent | None]]:
    """The lines of the JSONL events at ``path``, each line's event time (a bad line's is
    the line before's) and its event (``None`` for a bad line)."""
    decode = EventDecoder().decode
    lines = path.read_bytes().splitlines()
    times: list[int] = []
    events: list[ShopperEvent | None] = []
    for raw in lines:
        try:
            event = decode(raw)
        except DecodeError:
            times.append(times[-1] if times else 0)
            events.append(None)
            continue
        times.append(event.timestamp_ms)
        events.append(event)
    return lines, times, events


def insert_lines(path: Path, lines: list[bytes], inserts: list[tuple[int, bytes]]) -> None:
    """Write ``lines`` to ``path`` with each ``(index, line)`` of ``inserts`` put before
    the line at that index."""
    for at, raw in sorted(inserts, reverse=True):
        lines.insert(at, raw)
    path.write_bytes(b"".join(raw + b"\n" for raw in lines))


def add_catalog_changes(path: Path, products: int = 6) -> int:
    """Insert catalog changes into the JSONL events at ``path`` (in place): the most
    viewed products go out of stock a third of the way in and come back two thirds in,
    some stamped at the time around them, some minutes behind it (never late: they take
    effect at the watermark) and one ahead; returns how many were added."""
    lines, times, events = read_events(path)
    views = collections.Counter(e.product_id for e in events
                                if e is not None and e.event_type == "VIEW_PRODUCT"
                                and e.product_id)
    top = [product for product, _ in views.most_common(products)]
    inserts: list[tuple[int, bytes]] = []
    for n, product in enumerate(top):
        for phase, (fraction, quantity) in enumerate(((1 / 3, 0), (2 / 3, 10))):
            at = int(len(lines) * fraction) + 7 * n
            shift = (-180_000, 0, 2_000)[(n + phase) % 3]
            change = {"eventType": "PRODUCT_CHANGE", "timestamp": times[at] + shift,
                      "sessionId": "catalog", "eventId": f"catalog-{product}-{phase}",
                      "userId": "catalog", "productId": product, "quantity": quantity}
            inserts.append((at, json.dumps(change).encode()))
    insert_lines(path, lines, inserts)
    return len(inserts)


#: Which field partitions each stream's records when outputs are compared per key.
STREAM_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    streams.BASKET_COMPLETIONS: lambda r: r["sessionId"],
    streams.ABANDONED_BASKETS: lambda r: r["sessionId"],
    streams.CART_ABANDONMENT: lambda r: r["sessionId"],
    streams.FRAUD_ALERTS: lambda r: (r["scope"], r["userId"], r["device"]),
    streams.REVENUE_STATS: lambda r: r["windowStart"],
    streams.TOP_PRODUCTS: lambda r: r["windowStart"],
    streams.BASKET_PATTERNS: lambda r: "all",
    streams.RULES_BY_ANTECEDENT: lambda r: "all",
    streams.PRODUCT_RECOMMENDATIONS: lambda r: r["sessionId"],
    streams.TRENDING_PRODUCTS: lambda r: r["windowEnd"],
    streams.RECOMMENDATION_MODELS: lambda r: (r["kind"], r["anchor"]),
    streams.CATALOG_CHANGES: lambda r: r["productId"],
    streams.DEAD_LETTER: lambda r: r["offset"],
    streams.LATE_EVENTS: lambda r: r["event"]["sessionId"],
}


#: Every stream the parity topology writes, plus the runner's own.
SIM_STREAMS = [*parity_topology().sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS]


def expected_lines(source: Path, topology: Topology) -> dict[str, list[str]]:
    """The test kit's outputs of ``topology`` over ``source`` (lines that do not decode
    skipped), as the output files would hold them, by stream."""
    decode = EventDecoder().decode
    events = []
    for raw in source.read_bytes().splitlines():
        try:
            events.append(decode(raw))
        except DecodeError:
            continue
    encode = msgspec.json.Encoder().encode
    lines: dict[str, list[str]] = collections.defaultdict(list)
    for out in run_topology(topology, events):
        lines[out.stream].append(encode(out.record).decode())
    return lines


def _one_key(_: Any) -> str:
    return "all"


def per_key(lines: list[str], stream: str) -> dict[Any, collections.Counter[str]]:
    """Lines of ``stream`` as ``key -> multiset of canonical JSON records``."""
    key_of: Callable[[Any], Any] = STREAM_KEYS.get(stream, _one_key)
    grouped: dict[Any, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in lines:
        record = json.loads(line)
        grouped[key_of(record)][json.dumps(record, sort_keys=True)] += 1
    return dict(grouped)


@dataclass
class RunOutputs:
    """The output files of one run, read per stream."""

    directory: Path
    summary: Any = None
    _cache: dict[str, list[str]] = field(default_factory=dict)

    def lines(self, stream: str) -> list[str]:
        if stream not in self._cache:
            path = self.directory / f"{stream}.jsonl"
            self._cache[stream] = path.read_text().splitlines() if path.exists() else []
        return self._cache[stream]

    def per_key(self, stream: str) -> dict[Any, collections.Counter[str]]:
        return per_key(self.lines(stream), stream)


@dataclass
class ParityRunner:
    """Runs a topology on one engine; runs of the same input are cached for the session."""

    name: str
    workdir: Path
    _runs: dict[tuple[str, str], RunOutputs] = field(default_factory=dict)

    @property
    def parallelism(self) -> int:
        return int(self.name.split("-")[1]) if self.name.startswith("flink") else 1

    def run(self, label: str, input_path: Path, topology: Topology | None = None,
            out_of_orderness_ms: int = 5_000) -> RunOutputs:
        """Run ``topology`` (default: :func:`parity_topology`) over ``input_path``."""
        cache_key = (label, str(input_path))
        if cache_key in self._runs:
            return self._runs[cache_key]
        topo = topology or parity_topology()
        out = self.workdir / f"{self.name}-{label}"
        shutil.rmtree(out, ignore_errors=True)
        if self.name == "embedded":
            summary: Any = EmbeddedRunner(topo, out, RunnerConfig(
                out_of_orderness_ms=out_of_orderness_ms)).run(input_path)
        else:
            from shopstream.runners.flink import FlinkConfig, FlinkRunner

            with warnings.catch_warnings():
                # PyFlink and its Beam dependency warn on import; not ours to fix here.
                warnings.simplefilter("ignore")
                summary = FlinkRunner(topo, out, FlinkConfig(
                    out_of_orderness_ms=out_of_orderness_ms,
                    parallelism=self.parallelism)).run(input_path)
        result = self._runs[cache_key] = RunOutputs(out, summary)
        return result
