"""The shortcuts of the recommendation hot path give what the general path gives."""

from __future__ import annotations

from typing import Any

import pytest

from shopstream.events.recommendations import ModelList
from shopstream.recommend.base import BLENDED, PERSONAL, RecContext
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.history import HistoryConfig, UserHistory
from shopstream.recommend.published import PublishedLists
from shopstream.recommend.session_votes import SessionVotes, add_votes
from shopstream.recommend.strategies import list_strategies


def _blended(lists: PublishedLists) -> dict[Any, Any]:
    return lists.table(BLENDED)


def test_first_list_of_a_session_votes_as_add_votes_would() -> None:
    lists = PublishedLists()
    lists.apply(ModelList(BLENDED, "a", 0, ("b", "c", "d"), (0.3, 0.2, 0.1),
                          ("NEXT_ITEM", "CO_OCCURRENCE", "NEXT_ITEM")))
    votes = SessionVotes()
    votes.add("a", _blended(lists), 1, depth=2, decay=0.5, capacity=30)
    scores: dict[str, float] = {}
    sources: dict[str, str] = {}
    add_votes(scores, sources, ("b", "c"), (0.3, 0.2), 2.0, ("NEXT_ITEM", "CO_OCCURRENCE"))
    assert votes.votes == scores
    assert list(votes.votes) == ["b", "c"]  # list order: ties break the same way
    assert votes.sources == sources


def test_a_list_naming_a_product_twice_sums_its_votes() -> None:
    lists = PublishedLists()
    lists.apply(ModelList(BLENDED, "a", 0, ("b", "b"), (0.3, 0.2), ("X", "Y")))
    votes = SessionVotes()
    votes.add("a", _blended(lists), 1, depth=20, decay=1.0, capacity=30)
    assert votes.votes == {"b": pytest.approx(0.5)}
    assert votes.sources == {"b": "X"}


def test_first_list_longer_than_the_cap_is_pruned() -> None:
    lists = PublishedLists()
    items = tuple(f"p{i}" for i in range(10))
    lists.apply(ModelList(BLENDED, "a", 0, items, tuple(10.0 - i for i in range(10)),
                          ("X",) * 10))
    votes = SessionVotes()
    votes.add("a", _blended(lists), 1, depth=10, decay=1.0, capacity=2)
    assert list(votes.votes) == ["p0", "p1"]
    assert set(votes.sources) == {"p0", "p1"}


def test_past_leaves_out_the_session_and_the_cart() -> None:
    cfg = HistoryConfig()
    history = UserHistory()
    for t, product in enumerate(["a", "b", "c", "d"]):
        history.learn(product, "PURCHASE", t, cfg)
    assert history.products(3) == ("d", "c", "b")
    assert history.past(3, {"d": None}, {"b": 1}) == ("c",)
    assert history.past(2, {"d": None, "c": None}, {}) == ()


def test_history_add_is_learn_with_the_weight() -> None:
    cfg = HistoryConfig()
    learned, added = UserHistory(), UserHistory()
    for t, (product, kind) in enumerate([("a", "VIEW_PRODUCT"), ("b", "PURCHASE"),
                                         ("a", "ADD_TO_CART"), ("c", "SEARCH")]):
        learned.learn(product, kind, t, cfg)
        added.add(product, cfg.weights.of(kind), t, cfg)
    assert learned.top(5, 10, cfg) == added.top(5, 10, cfg)
    assert len(added) == 2


def test_blender_asks_personal_only_with_a_history(monkeypatch: pytest.MonkeyPatch) -> None:
    lists = PublishedLists()
    lists.apply(ModelList("POPULAR", "", 0, ("x", "y"), (2.0, 1.0)))
    strategies = list_strategies(lists)
    blender = Blender(strategies, BlendConfig(weights=((PERSONAL, 1.0),),
                                              fallback=("POPULAR",)))
    asked: list[tuple[str, ...]] = []
    personal = strategies[PERSONAL]
    contribute = personal.contribute

    def spy(context: RecContext, *args: Any) -> Any:
        asked.append(context.history)
        return contribute(context, *args)

    monkeypatch.setattr(personal, "contribute", spy)
    new = RecContext("s", "u", ("a",), frozenset(), 1)
    assert blender.rank(new, 2)[0].product_id == "x"
    assert asked == []
    back = RecContext("s", "u", ("a",), frozenset(), 1, history=("h",))
    assert [(b.product_id, b.source) for b in blender.rank(back, 2)] == [
        ("h", PERSONAL), ("x", "POPULAR")]
    assert asked == [("h",)]


@pytest.mark.parametrize("scored", [{}, {"x": 0.5, "h2": 0.25}, {"h1": 1.0, "h3": 0.1}])
def test_rules_vote_as_the_general_list_strategy(scored: dict[str, float]) -> None:
    """BasketRules reads each rule's consequent in place (no tuple of consequents built
    per list and request): scores, their insertion order (ties) and sources are what
    ListStrategy.contribute gives from its votes()."""
    from shopstream.events.patterns import AntecedentRules, RuleSummary
    from shopstream.recommend.strategies import ListStrategy

    lists = PublishedLists()
    rules = tuple(RuleSummary(c, 0.1, 0.9 - i / 10, 2.0, 0.1, 3)
                  for i, c in enumerate(("h2", "r1", "x")))
    lists.apply(AntecedentRules(("a",), rules, 0))
    lists.apply(AntecedentRules(("a", "b"), rules[1:], 0))
    strategies = list_strategies(lists)
    context = RecContext("s", "u", ("a", "b"), frozenset(), 5)
    strategy = strategies["BASKET_BASED"]
    for depth in (None, 2):
        fast, fast_sources = dict(scored), {p: "OLD" for p in scored}
        general, general_sources = dict(scored), {p: "OLD" for p in scored}
        strategy.contribute(context, 0.7, depth, fast, fast_sources)
        ListStrategy.contribute(strategy, context, 0.7, depth,  # type: ignore[arg-type]
                                general, general_sources)
        assert list(fast.items()) == list(general.items())
        assert fast_sources == general_sources
        assert len(fast) > len(scored)
