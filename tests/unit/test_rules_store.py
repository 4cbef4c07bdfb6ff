"""Rules reach the store: `shopstream run --store` keeps `rules:antecedent:{a|b}` current."""

from __future__ import annotations

import json
from pathlib import Path

from shopstream.mining import RulesConfig
from shopstream.operators.rules import RulesStreamConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.stores.embedded import SqliteStore
from shopstream.stores.keys import TRENDING_KEY, recs_key, related_key, rules_key
from shopstream.stores.tap import StoreTap


def test_store_holds_the_latest_rule_list_of_every_antecedent(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=1_500, seed=3, end_ms=1_767_225_600_000), events,
                progress=False)
    config = PipelineConfig(rules=RulesStreamConfig(
        RulesConfig(min_support=0.01, min_confidence=0.3), min_baskets=200))
    store = SqliteStore(tmp_path / "store.db")
    try:
        EmbeddedRunner(default_topology(config), tmp_path / "out",
                       taps=[StoreTap(store)]).run(events)
        latest: dict[tuple[str, ...], list[dict[str, object]]] = {}
        lines = (tmp_path / "out" / "rules-by-antecedent.jsonl").read_text().splitlines()
        for line in lines:
            record = json.loads(line)
            latest[tuple(record["antecedents"])] = record["rules"]
        assert any(latest.values()), "the simulator's bundles should give rules"
        for antecedents, rules in latest.items():
            assert store.get(rules_key(antecedents)) == rules
            if len(antecedents) == 1:
                related = store.get(related_key(antecedents[0]))
                assert [r["productId"] for r in related] == [r["consequent"] for r in rules]
        # The latest trending list and each session's latest recommendations too.
        trending = (tmp_path / "out" / "trending-products.jsonl").read_text().splitlines()
        assert store.get(TRENDING_KEY) == json.loads(trending[-1])
        recs: dict[str, object] = {}
        for line in (tmp_path / "out" / "product-recommendations.jsonl").read_text().splitlines():
            record = json.loads(line)
            recs[record["sessionId"]] = record
        assert len(recs) > 100
        for session, record in recs.items():
            assert store.get(recs_key(session)) == record
    finally:
        store.close()
