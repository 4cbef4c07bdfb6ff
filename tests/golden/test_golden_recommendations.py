"""Golden streams of the recommendation operators, computed by hand.

The input (``data/recommendations/input.jsonl``, 2026-01-05 from 10:00:01 UTC, one second
apart) is three sessions of distinct users: a views p1, p2, p3; b views p1 and adds p4;
c views p1 and adds p2. Views weigh 0.25 and adds 1.0.

Recommendations use session neighbours alone (weight 1, rank fusion ``1 / (10 + rank)``),
popularity as the fallback, k = 3. Position weights are ``0.5 ** (distance / 4)``:
0.840896 at 1, 0.707107 at 2. Neighbour recency decay over seconds (half-life 7 days)
moves nothing at 6 decimals.

* a/p1, a/p2, a/p3: no other session yet, so the fallback alone: popularity ranks by
  weighted count then id, leaving out the trigger: [], [p1], [p1, p2]; fallback scores
  start at 0.99 and shrink by 0.99; confidence 0 (nothing but the fallback).
* b/p1: neighbour a (overlap 1, similarity 1 / sqrt(1 * 3)) votes p2 (x 0.84) above p3
  (x 0.71): [p2, p3] scored 1/11, 1/12; popularity adds nothing new (p1 is the trigger).
* b/p4 (add): query (p1 weight 1/2, p4 weight 1); only a shares p1: [p2, p3], then
  popularity's best new product p1 (p4: 1.0 is in the basket) at 1/12 * 0.99 = 0.0825.
* c/p1: neighbours b (1 / sqrt(2) = 0.707, votes p4 x 0.84 = 0.595) and a (0.577:
  p2 0.486, p3 0.408): [p4, p2, p3] scored 1/11, 1/12, 1/13; confidence 1 (top rank).
* c/p2 (add): a shares p1 and p2 (overlap 1.5 / sqrt(2 * 3) = 0.612, anchor at p2, so p3
  is 1 away: 0.515), b shares p1 (0.5 / sqrt(4) = 0.25, p4: 0.210): [p3, p4], then
  popularity's p1 (the cached list p4, p1, p2, p3: p4 is taken).

Trending (window 2 minutes, slide 1 minute): at 10:01:00 the minute's weighted counts
p2 1.25, p4 1.0, p1 0.75, p3 0.25 with velocity equal to the count (no earlier pane);
at 10:02:00 the same pane is one minute old: scores x 0.707, velocity -count; at 10:03:00
the window is empty: an empty list, and emission stops.
"""

from __future__ import annotations

from pathlib import Path

from shopstream.events import streams
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.pipeline import recommendation_stages
from shopstream.recommend.base import POPULAR, VIEW_BASED
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.trending import TrendingConfig
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.topology import Topology

DATA = Path(__file__).parent / "data" / "recommendations"


def test_recommendations_and_trending(tmp_path: Path, regen_golden: bool) -> None:
    config = RecommendationsConfig(recommend=RecommendConfig(
        blend=BlendConfig(weights=((VIEW_BASED, 1.0),), fallback=(POPULAR,), variant="golden"),
        trending=TrendingConfig(window_ms=120_000, slide_ms=60_000), k=3))
    topology = Topology(recommendation_stages(config),
                        sink_streams=(streams.PRODUCT_RECOMMENDATIONS, streams.TRENDING_PRODUCTS))
    summary = EmbeddedRunner(topology, tmp_path).run(DATA / "input.jsonl")
    assert (summary.dead_letters, summary.late_events) == (0, 0)
    for stream in (streams.PRODUCT_RECOMMENDATIONS, streams.TRENDING_PRODUCTS):
        produced = (tmp_path / f"{stream}.jsonl").read_text()
        expected = DATA / f"expected-{stream}.jsonl"
        if regen_golden:
            expected.write_text(produced)
        assert produced == expected.read_text(), stream
