"""Learning the blend's weights on a validation split of the training sessions.

The training sessions are split again (the latest ``validation_fraction`` validate);
the models learn the rest and are frozen, and up to ``max_predictions`` next-item
predictions of the validation sessions (the static protocol's) are prepared once: each
strategy's votes with weight 1. A blend's votes are the weighted sum of those, so each
candidate weighting costs only a sum and a top-k per prediction. Coordinate ascent
then tries each strategy's weight over a grid, keeping a change only when HR@K rises
(MRR@K breaks ties), for a few rounds. The test sessions are never looked at.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shopstream.evaluation.harness import EvalHarness, SessionCursor
from shopstream.evaluation.sessions import EvalSession, split
from shopstream.recommend.base import RecContext, top_k
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.history import UserHistory
from shopstream.recommend.strategies import list_strategies

if TYPE_CHECKING:
    from shopstream.evaluation.replay import EvaluationConfig

__all__ = ["GRID", "tune_weights"]

#: Weights tried for each strategy.
GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)

_Case = tuple[RecContext, str, dict[str, dict[str, float]]]


def tune_weights(train: list[EvalSession], config: EvaluationConfig,
                 validation_fraction: float = 0.125, max_predictions: int = 3_000,
                 rounds: int = 2) -> tuple[BlendConfig, dict[str, Any]]:
    """The blend weights that do best on the validation split; see the module docs."""
    from shopstream.evaluation.replay import static_test_sessions
    fit, validation = split(train, validation_fraction)
    validation = static_test_sessions(fit, validation)
    rec = config.recommend
    harness = EvalHarness(rec)
    last = harness.learn_all(fit, None)
    first = min(s.start_ms for s in train)
    harness.trainer.publish_all(first, now_ms=last + 1)
    harness.trainer.mine_rules(first)
    strategies = list_strategies(harness.trainer.lists, rec.serve)
    names = sorted(strategies)
    cases: list[_Case] = []
    for session in validation:
        cursor = SessionCursor(session, rec.pairs.session_gap_ms,
                               harness.trainer.lists, rec.serve)
        found = harness.trainer.users.get(session.events[0].user_id)
        history = copy.deepcopy(found) if found else UserHistory()
        for i, row in enumerate(session.events):
            if i and len(cases) < max_predictions:
                ctx = cursor.context(row, history.products(rec.serve.history))
                if not ctx.excludes(row.item):
                    votes: dict[str, dict[str, float]] = {}
                    for name in names:
                        part: dict[str, float] = {}
                        strategies[name].contribute(ctx, 1.0, rec.serve.depth, part)
                        votes[name] = part
                    cases.append((ctx, row.item, votes))
            cursor.advance(row)
            history.learn(row.item, row.event_type, row.timestamp_ms, rec.history)
    defaults = {name: 0.0 for name in names}
    defaults.update({s: w for s, w in rec.blend.weights if s in defaults})
    start = _score(cases, defaults, config.k)
    # Start from the best of the defaults and every strategy alone, so the blend is never
    # worse on validation than its best part.
    candidates = [defaults] + [{n: float(n == name) for n in names} for name in names]
    scored = [(_score(cases, c, config.k), i) for i, c in enumerate(candidates)]
    best, index = max(scored, key=lambda e: (e[0], -e[1]))
    weights = candidates[index]
    for _ in range(rounds):
        improved = False
        for name in names:
            for value in GRID:
                if value == weights[name]:
                    continue
                trial = {**weights, name: value}
                if not any(trial.values()):
                    continue
                score = _score(cases, trial, config.k)
                if score > best:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    tuned = tuple((name, w) for name, w in sorted(weights.items(), key=lambda e: (-e[1], e[0]))
                  if w > 0)
    blend = replace(rec.blend, weights=tuned, variant="tuned")
    info = {"validation_sessions": len(validation), "predictions": len(cases),
            "hr_before": round(start[0], 4), "hr_after": round(best[0], 4),
            "weights": dict(tuned)}
    return blend, info


def _score(cases: list[_Case], weights: dict[str, float], k: int) -> tuple[float, float]:
    """HR@K and MRR@K of one weighting over the prepared cases."""
    active = [(name, w) for name, w in weights.items() if w > 0]
    hits = 0
    reciprocal = 0.0
    for ctx, target, votes in cases:
        scores: dict[str, float] = {}
        get = scores.get
        for name, w in active:
            for product, value in votes[name].items():
                scores[product] = get(product, 0.0) + w * value
        for position, scored in enumerate(top_k(scores, k, ctx), start=1):
            if scored.product_id == target:
                hits += 1
                reciprocal += 1 / position
                break
    n = max(1, len(cases))
    return hits / n, reciprocal / n
