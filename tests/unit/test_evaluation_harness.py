"""The evaluation harness: the blend reuses session k-NN's answer to the same context
instead of computing it twice, with the same results."""

from __future__ import annotations

import pytest

from shopstream.evaluation.replay import EvaluationConfig, evaluate
from shopstream.evaluation.sessions import EvalSession, SessionRow
from shopstream.recommend.base import VIEW_BASED
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.suite import RecommendConfig


def _sessions() -> list[EvalSession]:
    shapes = ["abcd", "abce", "bcdf", "acdg", "abdf", "bcef", "abcg", "acef", "bdeg", "abcf"]
    return [EvalSession(f"s{n}", tuple(SessionRow(n * 10_000_000 + i * 1_000, p, f"u{n}",
                                                  "VIEW_PRODUCT")
                                       for i, p in enumerate(items)))
            for n, items in enumerate(shapes)]


@pytest.mark.parametrize("protocol", ["static", "online"])
def test_the_blend_reuses_session_knns_answer_and_scores_the_same(
        protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    rank = SessionKnn.rank

    def counted(self: SessionKnn, context: object, k: int) -> object:
        calls.append(k)
        return rank(self, context, k)  # type: ignore[arg-type]

    monkeypatch.setattr(SessionKnn, "rank", counted)
    blend = BlendConfig(weights=((VIEW_BASED, 1.0), ("CO_OCCURRENCE", 1.0)))
    config = EvaluationConfig(test_fraction=0.3, protocol=protocol,
                              recommend=RecommendConfig(blend=blend))
    both = evaluate(_sessions(), config)
    predictions = both["predictions"]
    assert predictions > 0
    assert len(calls) == predictions  # asked once per prediction, not once per asker
    calls.clear()
    alone = evaluate(_sessions(), EvaluationConfig(
        test_fraction=0.3, protocol=protocol, recommend=RecommendConfig(blend=blend),
        skip=frozenset({"session_knn"})))
    assert len(calls) == predictions
    for key in ("hr", "mrr", "coverage"):
        assert both["recommenders"]["blend"][key] == alone["recommenders"]["blend"][key]
