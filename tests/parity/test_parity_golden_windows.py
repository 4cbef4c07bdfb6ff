"""Golden streams on every runner (see ``test_parity.py``): the windowed operators,
revenue and top products, and the recommender's trending, learning, list publishing and
per-shopper stages with their broadcast inputs, each compared per key as multisets."""

from __future__ import annotations

import pytest
from parity_kit import ParityRunner, check_golden_stream, golden_recommendation_topology

from shopstream.events import streams

#: (golden case, stream): the operator behind each stream, checked on its own input.
GOLDEN_CASES = [
    ("revenue", streams.REVENUE_STATS),
    ("top-products", streams.TOP_PRODUCTS),
    ("recommendations", streams.PRODUCT_RECOMMENDATIONS),
    ("recommendations", streams.TRENDING_PRODUCTS),
    ("recommendations", streams.RECOMMENDATION_MODELS),
]


@pytest.mark.parametrize(("case", "stream"), GOLDEN_CASES,
                         ids=[f"{c}:{s}" for c, s in GOLDEN_CASES])
def test_golden_stream_per_key(runner: ParityRunner, case: str, stream: str) -> None:
    # The recommendation case runs with its own topology: the recommender's stages alone.
    topology = golden_recommendation_topology() if case == "recommendations" else None
    check_golden_stream(runner, case, stream, topology)
