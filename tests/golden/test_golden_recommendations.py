"""Golden streams of the recommendation stages, computed by hand.

The input (``data/recommendations/input.jsonl``, 2026-01-05 from 10:00:01 UTC, one second
apart) is three sessions of distinct users in the first minute: a views p1, p2, p3; b
views p1 and adds p4; c views p1 and adds p2; then two in the third minute (from
10:02:01): d views p1 and p2, e views p4. Views weigh 0.25 and adds 1.0.

The blend uses next items alone (weight 1), popularity as the fallback, k = 3, lists
published every minute, session votes decaying by 0.8 a product (lift 1.25 per step).

* Learned in the first minute and published at its end (valid from 10:01:00.000):
  NEXT_ITEM p1 -> {p2: 2, p4: 1}, p2 -> {p3: 1}, p3 -> {}, p4 -> {}; their BLENDED lists
  p1 -> [p2 1/11 = 0.090909, p4 1/12 = 0.083333], p2 -> [p3 1/11]; POPULAR by weighted
  count: p2 1.25, p4 1.0, p1 0.75, p3 0.25.
* Every first-minute recommendation finds nothing published yet: empty lists, type
  POPULAR, confidence 0.
* d/p1: p2 1/11, p4 1/12, then popularity's best product neither taken nor touched, p3,
  at 1/12 * 0.99 = 0.0825; type NEXT_ITEM (two of three), confidence 1 (the top vote is
  the best possible, 1/11).
* d/p2: p1's list has aged one step: p2 0.8/11 (touched: out), p4 0.8/12 = 0.066667;
  p2's list brings p3 1/11 = 0.090909: [p3, p4]; popularity has nothing left (p2, p1
  touched, p4 and p3 taken).
* e/p4: p4 has no list: popularity alone, p2, p1, p3 at 0.99, 0.9801, 0.970299;
  confidence 0.

``recommendation-models`` holds what the recommender reads: the BLENDED lists and the
POPULAR one (the NEXT_ITEM, CO_OCCURRENCE and CROSS_SELL lists are counted and fused,
not sent: this blend reads none of them itself), then the third minute's (valid from
10:03:00): POPULAR only, since d's p1 -> p2 makes NEXT_ITEM p1 -> {p2: 3, p4: 1}, the
same ranks, so the same BLENDED list, not sent again; then, 30 days after each anchor's
last news, an empty list of each kind it published.

Trending (window 2 minutes, slide 1 minute): at 10:01:00 the minute's weighted counts
p2 1.25, p4 1.0, p1 0.75, p3 0.25 with velocity equal to the count (no earlier pane);
at 10:02:00 the same pane is one minute old: scores x 0.707, velocity -count; at 10:03:00
the third minute's p1, p2, p4 (0.25 each); at 10:04:00 those one minute old; at 10:05:00
the window is empty: an empty list, and emission stops.
"""

from __future__ import annotations

from pathlib import Path

from shopstream.events import streams
from shopstream.operators.recommendations import RecommendationsConfig
from shopstream.pipeline import recommendation_stages
from shopstream.recommend.base import NEXT_ITEM, POPULAR
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.trending import TrendingConfig
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.topology import Topology

DATA = Path(__file__).parent / "data" / "recommendations"


def test_recommendations_and_trending(tmp_path: Path, regen_golden: bool) -> None:
    config = RecommendationsConfig(recommend=RecommendConfig(
        blend=BlendConfig(weights=((NEXT_ITEM, 1.0),), fallback=(POPULAR,), variant="golden"),
        trending=TrendingConfig(window_ms=120_000, slide_ms=60_000), k=3,
        publish_every_ms=60_000))
    sinks = (streams.PRODUCT_RECOMMENDATIONS, streams.TRENDING_PRODUCTS,
             streams.RECOMMENDATION_MODELS)
    topology = Topology(recommendation_stages(config), sink_streams=sinks)
    summary = EmbeddedRunner(topology, tmp_path).run(DATA / "input.jsonl")
    assert (summary.dead_letters, summary.late_events) == (0, 0)
    for stream in sinks:
        produced = (tmp_path / f"{stream}.jsonl").read_text()
        expected = DATA / f"expected-{stream}.jsonl"
        if regen_golden:
            expected.write_text(produced)
        assert produced == expected.read_text(), stream
