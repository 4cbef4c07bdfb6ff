"""The tuner's vote matrix gives exactly the HR@K and MRR@K of scoring each case one by one
(``evaluation.tuning._VoteMatrix`` against ``_score``), ties and exclusions included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.evaluation.tuning import _score, _VoteMatrix
from shopstream.recommend.base import RecContext

PRODUCTS = "abcdefg"
STRATEGIES = ("A", "B", "C")
# Few distinct values, so that many products tie.
VALUES = st.sampled_from([0.5, 1.0, 2.0, 1 / 3, 0.1])


@st.composite
def cases(draw: st.DrawFn) -> list[tuple[RecContext, str, dict[str, dict[str, float]]]]:
    out = []
    for n in range(draw(st.integers(1, 6))):
        items = tuple(draw(st.lists(st.sampled_from(PRODUCTS), max_size=2, unique=True)))
        basket = frozenset(draw(st.lists(st.sampled_from(PRODUCTS), max_size=2)))
        votes = {}
        for name in draw(st.permutations(STRATEGIES)):
            products = draw(st.lists(st.sampled_from(PRODUCTS), max_size=6, unique=True))
            votes[name] = {p: draw(VALUES) for p in products}
        target = draw(st.sampled_from(PRODUCTS))
        out.append((RecContext(f"s{n}", "u", items, basket, 0), target, votes))
    return out


@settings(max_examples=200, deadline=None)
@given(cases(), st.permutations(STRATEGIES),
       st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0]), min_size=3, max_size=3),
       st.integers(1, 5))
def test_the_vote_matrix_scores_as_case_by_case(
        prepared: list[tuple[RecContext, str, dict[str, dict[str, float]]]],
        order: list[str], ws: list[float], k: int) -> None:
    weights = dict(zip(order, ws, strict=True))
    assert _VoteMatrix(prepared).score(weights, k) == _score(prepared, weights, k)
