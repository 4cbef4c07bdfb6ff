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

from shopstream.events import streams
from shopstream.operators.rules import RulesStreamConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig
from shopstream.topology import Topology

RUNNERS = ("embedded", "flink-1", "flink-2")


def parity_topology() -> Topology:
    """The default pipeline without the broadcast (recommender) stages, which the Flink
    runner does not run yet, with the per-device fraud stage on, and rules published
    from 50 baskets (not 1,000) so that small inputs exercise the rule miner."""
    return default_topology(PipelineConfig(recommendations=None, fraud_by_device=True,
                                           rules=RulesStreamConfig(min_baskets=50)))


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
    streams.DEAD_LETTER: lambda r: r["offset"],
    streams.LATE_EVENTS: lambda r: r["event"]["sessionId"],
}


def per_key(lines: list[str], stream: str) -> dict[Any, collections.Counter[str]]:
    """Lines of ``stream`` as ``key -> multiset of canonical JSON records``."""
    key_of = STREAM_KEYS.get(stream, lambda r: "all")
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
