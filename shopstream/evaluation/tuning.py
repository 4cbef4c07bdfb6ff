"""Learning the blend's weights, and the models' memory, on a validation split of the
training sessions.

The training sessions are split again (the latest ``validation_fraction`` validate);
the models learn the rest and are frozen, and up to ``max_predictions`` next-item
predictions of the validation sessions (the static protocol's) are prepared once: each
strategy's votes with weight 1. A blend's votes are the weighted sum of those, so each
candidate weighting costs only a sum and a top-k per prediction. Coordinate ascent
then tries each strategy's weight over a grid, keeping a change only when HR@K rises
(MRR@K breaks ties), for a few rounds. The test sessions are never looked at.

With ``EvaluationConfig.tune_memory`` the whole search runs once per half-life of
:data:`MEMORY_GRID_MS` (every kind's counts and session k-NN's neighbours halve after it;
0: never), and the memory whose tuned blend does best on validation is kept; the report
gives every strategy's validation HR@K under each memory, so that each one's best memory
can be read off. With ``EvaluationConfig.blend_knn`` the session k-NN baseline
(``VIEW_BASED``, offline only: the pipeline has no session index) may be weighed too.

Cost: one training on the fit split whatever the memories tried (each other memory
replays only the training's merges of learned counts into its own lists,
:meth:`~shopstream.recommend.training.ModelTrainer.with_counts`: exactly the lists a
training under it gives); ``max_predictions`` predictions of every strategy per memory
(session k-NN's candidates scanned once for all memories); then ``rounds * strategies
* len(GRID)`` scorings of the prepared votes per memory.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from shopstream.evaluation.harness import REPORT_NAMES, EvalHarness, SessionCursor
from shopstream.evaluation.sessions import EvalSession, split
from shopstream.recommend.base import VIEW_BASED, RecContext, Recommender, top_k
from shopstream.recommend.blend import BlendConfig
from shopstream.recommend.history import UserHistory
from shopstream.recommend.session_knn import SessionKnn
from shopstream.recommend.suite import RecommendConfig, build_recommenders

if TYPE_CHECKING:
    from shopstream.evaluation.replay import EvaluationConfig

__all__ = ["GRID", "MEMORY_GRID_MS", "tune", "tune_weights"]

#: Weights tried for each strategy.
GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
_DAY_MS = 86_400_000
#: Half-lives tried with ``tune_memory``: the pipeline's 14 days, a season, a year, never.
MEMORY_GRID_MS = (14 * _DAY_MS, 90 * _DAY_MS, 365 * _DAY_MS, 0)

_Case = tuple[RecContext, str, dict[str, dict[str, float]]]


def tune(train: list[EvalSession], config: EvaluationConfig,
         validation_fraction: float = 0.125, max_predictions: int = 3_000,
         rounds: int = 2) -> tuple[RecommendConfig, dict[str, Any]]:
    """The recommendation settings (blend weights, and with ``config.tune_memory`` the
    counts' half-life) that do best on the validation split; see the module docs."""
    from shopstream.evaluation.replay import static_test_sessions
    fit, validation = split(train, validation_fraction)
    validation = static_test_sessions(fit, validation)
    base = config.recommend
    memories = MEMORY_GRID_MS if config.tune_memory else (base.counts.half_life_ms,)
    with_knn = config.blend_knn and "session_knn" not in config.skip
    best: tuple[tuple[float, float], int] | None = None
    chosen = base
    info: dict[str, Any] = {}
    per_memory: dict[str, Any] = {}
    recs = [replace(base, counts=replace(base.counts, half_life_ms=half_life))
            for half_life in memories]
    prepared, names = _prepare(fit, validation, recs, with_knn, max_predictions)
    for order, (half_life, rec, cases) in enumerate(zip(memories, recs, prepared,
                                                         strict=True)):
        weights, start, score, singles = _ascend(cases, names, rec.blend, config.k, rounds)
        tuned = tuple((n, w) for n, w in sorted(weights.items(), key=lambda e: (-e[1], e[0]))
                      if w > 0)
        per_memory[_days(half_life)] = {
            "blend_hr": round(score[0], 4),
            "hr": {REPORT_NAMES[n]: round(h, 4) for n, h in singles.items()}}
        if best is None or (score, -order) > best:
            best = (score, -order)
            chosen = replace(rec, blend=replace(rec.blend, weights=tuned, variant="tuned"))
            info = {"validation_sessions": len(validation), "predictions": len(cases),
                    "hr_before": round(start[0], 4), "hr_after": round(score[0], 4),
                    "weights": dict(tuned), "half_life_days": _days(half_life)}
    if config.tune_memory:
        info["memories"] = per_memory
    return chosen, info


def tune_weights(train: list[EvalSession], config: EvaluationConfig,
                 validation_fraction: float = 0.125, max_predictions: int = 3_000,
                 rounds: int = 2) -> tuple[BlendConfig, dict[str, Any]]:
    """The blend weights that do best on the validation split (:func:`tune`'s blend)."""
    rec, info = tune(train, config, validation_fraction, max_predictions, rounds)
    return rec.blend, info


def _days(half_life_ms: int) -> str:
    return f"{half_life_ms / _DAY_MS:g}" if half_life_ms else "never"


def _prepare(fit: list[EvalSession], validation: list[EvalSession],
             recs: list[RecommendConfig], with_knn: bool, max_predictions: int
             ) -> tuple[list[list[_Case]], list[str]]:
    """Learn ``fit`` once, freeze, and prepare each strategy's votes (weight 1) for up
    to ``max_predictions`` predictions of ``validation``, under each of ``recs`` (which
    differ only in their counts' settings): per ``recs`` entry, the cases a training
    under it gives (:meth:`~shopstream.recommend.training.ModelTrainer.with_counts`
    replays the first training's merges under the others' counts; session k-NN's index
    is shared, each memory a view of it). One walk of ``validation`` asks every memory
    in turn, so session k-NN scans its index once per prediction.

    Memory: every memory's trained lists and prepared votes are alive at once, and the
    first training's merges are kept until the others have replayed them (then freed):
    peak RSS on Instacart with four memories was 1.34 GB against 0.50 GB when each
    memory was trained in turn (``/usr/bin/time -v shopstream evaluate --sessions
    instacart-user-sessions.csv --tune --tune-memory --blend-knn``: 389 s against 504 s
    of CPU, the same report)."""
    first_rec = recs[0]
    harness = EvalHarness(first_rec, record=len(recs) > 1)
    last = harness.learn_all(fit, None)
    first = min(s.start_ms for s in fit)
    base = harness.trainer
    base.mine_rules(first)
    base.publish_all(first, now_ms=last + 1)
    trainers = [base]
    for rec in recs[1:]:
        trainer = base.with_counts(rec.counts)
        trainer.publish_all(first, now_ms=last + 1)
        trainers.append(trainer)
    base.tape = None  # replayed by every other memory: no longer needed
    knn = harness.knn.inner
    if not isinstance(knn, SessionKnn):  # pragma: no cover - the harness builds one
        msg = f"tuning: VIEW_BASED is a {type(knn).__name__}, not a SessionKnn"
        raise TypeError(msg)
    per_memory: list[dict[str, Recommender]] = []
    for rec, trainer in zip(recs, trainers, strict=True):
        strategies = build_recommenders(rec, trainer.lists)
        strategies[VIEW_BASED] = knn.with_half_life(rec.counts.half_life_ms)
        per_memory.append({name: r for name, r in strategies.items()
                           if name != VIEW_BASED or with_knn})
    names = sorted(per_memory[0])
    serve, gap = first_rec.serve, first_rec.pairs.session_gap_ms
    prepared: list[list[_Case]] = [[] for _ in recs]
    cases = prepared[0]
    for session in validation:
        cursors = [SessionCursor(session, gap, trainer.lists, serve) for trainer in trainers]
        found = base.users.get(session.events[0].user_id)
        history = copy.deepcopy(found) if found else UserHistory()
        for i, row in enumerate(session.events):
            if i and len(cases) < max_predictions:
                products = history.products(serve.history)
                contexts = [cursor.context(row, products) for cursor in cursors]
                # the session's products and cart, hence what is excluded, are the
                # same under every memory
                if not contexts[0].excludes(row.item):
                    for ctx, strategies, out in zip(contexts, per_memory, prepared,
                                                    strict=True):
                        votes: dict[str, dict[str, float]] = {}
                        for name in names:
                            part: dict[str, float] = {}
                            # depth None: each strategy's own, as the blender asks it
                            strategies[name].contribute(ctx, 1.0, None, part)
                            votes[name] = part
                        out.append((ctx, row.item, votes))
            for cursor in cursors:
                cursor.advance(row)
            history.learn(row.item, row.event_type, row.timestamp_ms, first_rec.history)
    return prepared, names


def _ascend(cases: list[_Case], names: list[str], blend: BlendConfig, k: int, rounds: int
            ) -> tuple[dict[str, float], tuple[float, float], tuple[float, float],
                       dict[str, float]]:
    """Coordinate ascent from the best of the defaults and every strategy alone: the
    weights, the defaults' score, the best score, and each strategy's HR alone."""
    defaults = {name: 0.0 for name in names}
    defaults.update({s: w for s, w in blend.weights if s in defaults})
    score = _VoteMatrix(cases).score
    start = score(defaults, k)
    # Start from the best of the defaults and every strategy alone, so the blend is never
    # worse on validation than its best part.
    candidates = [defaults] + [{n: float(n == name) for n in names} for name in names]
    scored = [(score(c, k), i) for i, c in enumerate(candidates)]
    singles = {name: scored[i + 1][0][0] for i, name in enumerate(names)}
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
                trial_score = score(trial, k)
                if trial_score > best:
                    best, weights, improved = trial_score, trial, True
        if not improved:
            break
    return weights, start, best, singles


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


class _VoteMatrix:
    """The prepared votes of ``cases`` as one matrix, so that a weighting's HR@K and
    MRR@K cost a few vector operations instead of a dictionary sum and a sort per case:
    exactly :func:`_score`'s figures.

    Rows are each case's products its context allows, in the order they first appear
    in its votes; one row of the matrix per strategy. A weighting's scores accumulate
    the strategies' rows in the weights' order, the same float operations in the same
    order as :func:`_score`'s sums (an absent vote adds ``w * 0.0 == 0.0``). A case's
    target then ranks one after the allowed products scoring above it and those tying
    it that entered :func:`_score`'s dictionary first (``top_k`` sorts stably), counted
    only for the cases with a tie. Cases whose target no strategy votes for never hit.

    Examples
    --------
    >>> ctx = RecContext("s", "u", ("x",), frozenset(), 0)
    >>> cases = [(ctx, "b", {"A": {"a": 2.0, "b": 1.0}, "B": {"b": 2.0, "x": 9.0}}),
    ...          (ctx, "c", {"A": {"a": 1.0}, "B": {"c": 1.0, "a": 1.0}})]
    >>> for weights in ({"A": 1.0, "B": 0.0}, {"A": 1.0, "B": 1.0}, {"A": 0.0, "B": 1.0}):
    ...     print(_VoteMatrix(cases).score(weights, 2), _score(cases, weights, 2))
    (0.5, 0.25) (0.5, 0.25)
    (1.0, 0.75) (1.0, 0.75)
    (1.0, 1.0) (1.0, 1.0)
    """

    def __init__(self, cases: list[_Case]) -> None:
        self.cases = cases
        names = sorted({name for _, _, votes in cases for name in votes})
        self.rows = {name: i for i, name in enumerate(names)}
        columns: list[int] = []
        strategies: list[int] = []
        values: list[float] = []
        starts: list[int] = []
        targets: list[int] = []
        #: per live case: its index in ``cases`` and its allowed products, in row order
        self.live: list[tuple[int, list[str]]] = []
        width = 0
        for c, (ctx, target, votes) in enumerate(cases):
            exclude = ctx.exclude
            at: dict[str, int] = {}
            entries: list[tuple[int, int, float]] = []
            for name, part in votes.items():
                row = self.rows[name]
                for product, value in part.items():
                    if product not in exclude:
                        column = at.get(product)
                        if column is None:
                            column = at[product] = width + len(at)
                        entries.append((row, column, value))
            if target not in at:
                continue
            for row, column, value in entries:
                strategies.append(row)
                columns.append(column)
                values.append(value)
            starts.append(width)
            targets.append(at[target])
            self.live.append((c, list(at)))
            width += len(at)
        self.width = width
        self.matrix = np.zeros((len(names), width))
        self.matrix[np.asarray(strategies, dtype=np.intp),
                    np.asarray(columns, dtype=np.intp)] = values
        self.starts = np.asarray(starts, dtype=np.intp)
        self.targets = np.asarray(targets, dtype=np.intp)
        sizes = np.diff(np.append(self.starts, width))
        self.case_of = np.repeat(np.arange(len(starts)), sizes)

    def score(self, weights: dict[str, float], k: int) -> tuple[float, float]:
        """HR@K and MRR@K of one weighting (those of :func:`_score`)."""
        active = [(name, w) for name, w in weights.items() if w > 0]
        n = max(1, len(self.cases))
        if not self.live:
            return 0.0, 0.0
        scores = np.zeros(self.width)
        for name, w in active:
            row = self.rows.get(name)
            if row is not None:
                scores = scores + w * self.matrix[row]
        target_scores = scores[self.targets]
        against = target_scores[self.case_of]
        above = np.add.reduceat((scores > against).astype(np.intp), self.starts)
        tied = scores == against
        tied[self.targets] = False
        ties = np.add.reduceat(tied.astype(np.intp), self.starts)
        hits = 0
        reciprocal = 0.0
        for i in np.flatnonzero((target_scores > 0) & (above < k)).tolist():
            position = int(above[i]) + 1
            if ties[i]:
                position += self._entered_before(i, tied, active)
                if position > k:
                    continue
            hits += 1
            reciprocal += 1 / position
        return hits / n, reciprocal / n

    def _entered_before(self, i: int, tied: Any, active: list[tuple[str, float]]) -> int:
        """How many of live case ``i``'s products tying its target entered
        :func:`_score`'s dictionary before it (by the first active strategy voting for
        each, then its place in that strategy's votes)."""
        c, products = self.live[i]
        _, target, votes = self.cases[c]
        begin = int(self.starts[i])

        def entered(product: str) -> tuple[int, int]:
            for a, (name, _) in enumerate(active):
                part = votes.get(name, {})
                if product in part:
                    return a, list(part).index(product)
            return len(active), 0

        mine = entered(target)
        tying = np.flatnonzero(tied[begin:begin + len(products)]).tolist()
        return sum(1 for j in tying if entered(products[j]) < mine)
