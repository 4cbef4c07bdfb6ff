"""The recommendation operator inside the default pipeline: one record per view or add,
at the trigger's event time, fed by the rule miner's broadcast."""

from __future__ import annotations

import json
from pathlib import Path

from shopstream.mining import RulesConfig
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.operators.rules import RulesStreamConfig
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.recommend.base import BASKET_BASED, POPULAR
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.suite import RecommendConfig
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl


def test_every_view_and_add_gets_recommendations_using_the_live_rules(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=1_500, seed=5, end_ms=1_767_225_600_000), events,
                progress=False)
    config = PipelineConfig(rules=RulesStreamConfig(
        RulesConfig(min_support=0.01, min_confidence=0.3), min_baskets=200))
    summary = EmbeddedRunner(default_topology(config), tmp_path / "out").run(events)
    inputs = [json.loads(line) for line in events.read_text().splitlines()]
    triggers = {(e["sessionId"], e["eventId"]): e for e in inputs
                if e["eventType"] in ("VIEW_PRODUCT", "ADD_TO_CART")}
    records = [json.loads(line) for line in
               (tmp_path / "out" / "product-recommendations.jsonl").read_text().splitlines()]
    assert summary.outputs["product-recommendations"] == len(records) == len(triggers)
    for record in records:
        event = triggers[(record["sessionId"], record["recommendationId"].split(":", 1)[1])]
        assert record["timestamp"] == event["timestamp"]
        assert record["triggerProductId"] == event["productId"]
        assert event["productId"] not in record["recommendedProducts"]
        assert len(record["recommendedProducts"]) == len(record["scores"]) <= 10
        assert 0.0 <= record["confidence"] <= 1.0
    trending = (tmp_path / "out" / "trending-products.jsonl").read_text().splitlines()
    assert len(trending) > 10 and json.loads(trending[-1])["products"] == []


def test_rules_reach_the_recommender_over_the_broadcast(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=1_000, seed=5, end_ms=1_767_225_600_000), events,
                progress=False)
    # An A/B variant that blends the basket rules alone (popularity fills short lists).
    variant = RecommendationsConfig(recommend=RecommendConfig(blend=BlendConfig(
        weights=((BASKET_BASED, 1.0),), fallback=(POPULAR,), variant="rules-only")))
    config = PipelineConfig(rules=RulesStreamConfig(
        RulesConfig(min_support=0.01, min_confidence=0.3), min_baskets=200),
        recommendations=variant)
    EmbeddedRunner(default_topology(config), tmp_path / "out").run(events)
    patterns = (tmp_path / "out" / "basket-patterns.jsonl").read_text().splitlines()
    first_rule_at = json.loads(patterns[0])["detectedAt"]
    records = [json.loads(line) for line in
               (tmp_path / "out" / "product-recommendations.jsonl").read_text().splitlines()]
    assert {r["context"]["variant"] for r in records} == {"rules-only"}
    from_rules = [r for r in records if "BASKET_BASED" in r["context"]["sources"]]
    assert from_rules, "no recommendation used a rule"
    # Nothing can come from rules before the miner published its first one.
    assert min(r["timestamp"] for r in from_rules) >= first_rule_at
    before = [r for r in records if r["timestamp"] < first_rule_at]
    assert before and all(set(r["context"]["sources"]) <= {"POPULAR"} for r in before)
