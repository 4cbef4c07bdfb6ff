"""Offline evaluation by replay: learn from earlier sessions, predict the next item of
later ones.

The protocol (what ``shopstream evaluate`` runs):

1. sessions are ordered by start time and the last ``test_fraction`` held out;
2. every strategy learns the training sessions' events in event-time order, and each
   session's basket (its added products) when its last event has been learned;
3. each test session is replayed event by event: before event ``i`` (``i >= 1``) every
   recommender - popularity, each strategy, the blend - ranks ``k`` products from the
   prefix (products in the prefix's basket are never recommended), and the product of
   event ``i`` is the target; then the event is learned, so models keep learning as in
   production; the basket is learned when the session ends.

A prediction whose target is already in the basket is skipped (no recommender may name
it). Reported per recommender: HR@K, MRR@K, catalog coverage (share of all products ever
recommended) and the time per prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shopstream.errors import ConfigError
from shopstream.evaluation.metrics import Metrics
from shopstream.evaluation.sessions import EvalSession, split
from shopstream.recommend.base import (
    BASKET_BASED,
    CROSS_SELL,
    PERSONAL,
    POPULAR,
    TRENDING,
    VIEW_BASED,
    Basket,
    RecContext,
    Step,
)
from shopstream.recommend.blend import Blender
from shopstream.recommend.suite import RecommendConfig, build_recommenders

__all__ = ["REPORT_NAMES", "EvaluationConfig", "evaluate"]

#: Report key of each evaluated recommender.
REPORT_NAMES: dict[str, str] = {
    POPULAR: "popularity", BASKET_BASED: "basket_based", VIEW_BASED: "view_based",
    CROSS_SELL: "cross_sell", PERSONAL: "personal", TRENDING: "trending"}

_BASKET_KINDS = frozenset({"ADD_TO_CART", "PURCHASE"})


@dataclass(frozen=True)
class EvaluationConfig:
    """What to evaluate and how.

    Parameters
    ----------
    k
        Length of each recommendation list (HR@K, MRR@K).
    test_fraction
        Share of the latest sessions held out.
    recommend
        Settings of the strategies and the blend.
    max_test_sessions
        Evaluate only the first this many test sessions (for quick runs).
    """

    k: int = 20
    test_fraction: float = 0.2
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    max_test_sessions: int | None = None

    def __post_init__(self) -> None:
        if self.k <= 0:
            msg = f"EvaluationConfig.k must be > 0, got {self.k!r}"
            raise ConfigError(msg)
        if not 0 < self.test_fraction < 1:
            msg = f"EvaluationConfig.test_fraction must be in (0, 1), got {self.test_fraction!r}"
            raise ConfigError(msg)
        if self.max_test_sessions is not None and self.max_test_sessions <= 0:
            msg = ("EvaluationConfig.max_test_sessions must be > 0, got "
                   f"{self.max_test_sessions!r}")
            raise ConfigError(msg)


def _basket(session: EvalSession) -> Basket | None:
    items = tuple(dict.fromkeys(e.item for e in session.events if e.event_type in _BASKET_KINDS))
    if not items:
        return None
    last = session.events[-1]
    return Basket(session.session_id, last.user_id, items, last.timestamp_ms)


def _train(blender: Blender, sessions: list[EvalSession]) -> None:
    timeline = sorted(
        ((row.timestamp_ms, n, i, row) for n, s in enumerate(sessions)
         for i, row in enumerate(s.events)), key=lambda entry: entry[:3])
    for _, n, i, row in timeline:
        session = sessions[n]
        blender.learn_one(Step(session.session_id, row.user_id, row.item, row.event_type,
                               row.timestamp_ms))
        if i == len(session.events) - 1:
            basket = _basket(session)
            if basket is not None:
                blender.learn_basket(basket)


def evaluate(sessions: list[EvalSession], config: EvaluationConfig | None = None,
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run the protocol and return the report (see the module documentation).

    ``progress`` is called with the number of test sessions done since the last call.
    """
    cfg = config or EvaluationConfig()
    train, test = split(sessions, cfg.test_fraction)
    if cfg.max_test_sessions is not None:
        test = test[:cfg.max_test_sessions]
    recommenders = build_recommenders(cfg.recommend)
    blender = Blender(recommenders, cfg.recommend.blend)
    started = time.perf_counter()
    _train(blender, train)
    train_seconds = time.perf_counter() - started

    evaluated: list[tuple[str, Callable[[RecContext, int], Iterable[Any]]]] = [
        (REPORT_NAMES[name], recommenders[name].rank) for name in REPORT_NAMES]
    evaluated.append(("blend", blender.rank))
    metrics = {name: Metrics(cfg.k) for name, _ in evaluated}
    clock = time.perf_counter
    started = clock()
    for session in test:
        touched: dict[str, None] = {}
        basket: set[str] = set()
        for i, row in enumerate(session.events):
            if i and row.item not in basket:
                context = RecContext(session.session_id, row.user_id, tuple(touched),
                                     frozenset(basket), row.timestamp_ms)
                for name, rank in evaluated:
                    t0 = clock()
                    ranked = [entry[0] for entry in rank(context, cfg.k)]
                    metrics[name].record(ranked, row.item, (clock() - t0) * 1000)
            blender.learn_one(Step(session.session_id, row.user_id, row.item,
                                   row.event_type, row.timestamp_ms))
            touched[row.item] = None
            if row.event_type in _BASKET_KINDS:
                basket.add(row.item)
        done = _basket(session)
        if done is not None:
            blender.learn_basket(done)
        if progress is not None:
            progress(1)
    test_seconds = clock() - started
    catalog = {row.item for s in sessions for row in s.events}
    results = {name: m.result(len(catalog)) for name, m in metrics.items()}
    return {
        "k": cfg.k,
        "sessions": {"train": len(train), "test": len(test)},
        "predictions": metrics["blend"].predictions,
        "catalog": len(catalog),
        "recommenders": results,
        "blend": {"variant": cfg.recommend.blend.variant,
                  "weights": dict(cfg.recommend.blend.weights),
                  "fallback": list(cfg.recommend.blend.fallback)},
        "seconds": {"train": round(train_seconds, 2), "test": round(test_seconds, 2)},
    }
