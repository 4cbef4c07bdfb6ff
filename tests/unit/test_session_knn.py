"""Session k-NN's scoring: STAN's anchor in a neighbour and the IDF weights of the
session's products."""

from __future__ import annotations

from shopstream.recommend.base import RecContext, Step
from shopstream.recommend.session_knn import SessionKnn


def _learn(knn: SessionKnn, sessions: dict[str, str]) -> None:
    t = 0
    for sid, items in sessions.items():
        for p in items:
            t += 1_000
            knn.learn_one(Step(sid, "u", p, "VIEW_PRODUCT", t))


def _ask(knn: SessionKnn, items: str, k: int = 3) -> list[str]:
    ctx = RecContext("now", "u", tuple(items), frozenset(), 1_000_000)
    return [s.product_id for s in knn.rank(ctx, k)]


def test_the_neighbours_votes_centre_on_the_sessions_latest_product() -> None:
    # The neighbour holds the session's products h and a; the session touched a last, so
    # the products next to a in the neighbour (b, c) are voted, not those next to h,
    # although h comes later in the neighbour (by default: its latest shared product).
    knn = SessionKnn(position_half_life=1.0, stan_anchor=True)
    _learn(knn, {"n": "abcdefgh"})
    assert _ask(knn, "ha", 2) == ["b", "c"]
    plain = SessionKnn(position_half_life=1.0)
    _learn(plain, {"n": "abcdefgh"})
    assert _ask(plain, "ha", 2) == ["g", "f"]


def test_a_product_every_session_holds_finds_no_neighbour() -> None:
    # With IDF, c, in every session, says nothing of which sessions are alike, so only
    # the session holding r as well votes (without: p too, through c alone).
    knn = SessionKnn(idf=True)
    _learn(knn, {"a": "cp", "b": "crq"})
    assert _ask(knn, "rc") == ["q"]
    plain = SessionKnn()
    _learn(plain, {"a": "cp", "b": "crq"})
    assert _ask(plain, "rc") == ["q", "p"]


def test_forgotten_sessions_leave_the_counts_behind_them() -> None:
    knn = SessionKnn(max_sessions=2, idf=True)
    _learn(knn, {"a": "xy", "b": "xz", "c": "wz"})
    # a is forgotten: x is held by one of the two sessions left, z by both
    assert len(knn) == 2
    assert _ask(knn, "x") == ["z"]
    assert _ask(knn, "z") == []
