"""Offline evaluation: learn from earlier sessions, predict the next item of later ones.

Two protocols (``shopstream evaluate --protocol``):

``static`` (the default; the session-based recommendation literature's, as in
session-rec): sessions ordered by start, the first ``1 - test_fraction`` train; test
events whose item never occurs in training are dropped, then test sessions with fewer
than 2 events; every prefix of a test session predicts its next item; the models learned
in training are published once and frozen (no learning during the test). The shopper's
own state (the session's context and their history, what the operator keeps per
shopper) does follow the test session's prefix: it is the request's context, not a
model.

``online``: the same split, but the test sessions are replayed in event-time order as
the pipeline sees them: every event is predicted, then learned; the lists are published
every ``publish_every_ms`` of event time, as the pipeline's learning stages do.

In both, a prediction's context is what the recommendation operator would hold (see
:class:`~shopstream.evaluation.harness.SessionCursor`); a target the context excludes (in
the cart, or already touched in the session) is skipped, since no recommender may name
it. Rules are mined once from the training baskets, within the mining budget. Reported
per recommender (each strategy, the session k-NN baseline, the blend): HR@K, MRR@K,
catalog coverage and milliseconds per prediction (median, p99).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from shopstream.errors import ConfigError
from shopstream.evaluation.harness import REPORT_NAMES, EvalHarness, SessionCursor
from shopstream.evaluation.metrics import Metrics
from shopstream.evaluation.sessions import EvalSession, SessionRow, split
from shopstream.recommend.history import UserHistory
from shopstream.recommend.session_pairs import WINDOW as SESSION_WINDOW
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.training import collector_paused

__all__ = ["PROTOCOLS", "EvaluationConfig", "evaluate", "static_test_sessions"]

PROTOCOLS = ("static", "online")


@dataclass(frozen=True)
class EvaluationConfig:
    """What to evaluate and how.

    Parameters
    ----------
    k
        Length of each recommendation list (HR@K, MRR@K).
    test_fraction
        Share of the latest sessions held out.
    protocol
        ``static`` or ``online`` (see the module documentation).
    recommend
        Settings of the strategies and the blend.
    max_test_sessions
        Evaluate only the first this many test sessions (for quick runs).
    tune
        Learn the blend's weights on a validation split of the training sessions first.
    skip
        Report names of single strategies not to evaluate (``session_knn``, the slowest,
        for quick runs); the blend is always evaluated.
    tune_memory
        With ``tune``, also choose the counts' half-life (and session k-NN's neighbour
        recency) on the validation split, among
        :data:`~shopstream.evaluation.tuning.MEMORY_GRID_MS`.
    blend_knn
        With ``tune``, let the blend weigh the session k-NN baseline (``VIEW_BASED``):
        offline only, since the pipeline keeps no index of other sessions.
    """

    k: int = 20
    test_fraction: float = 0.2
    protocol: str = "static"
    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    max_test_sessions: int | None = None
    tune: bool = False
    skip: frozenset[str] = frozenset()
    tune_memory: bool = False
    blend_knn: bool = False

    def __post_init__(self) -> None:
        if self.k <= 0:
            msg = f"EvaluationConfig.k must be > 0, got {self.k!r}"
            raise ConfigError(msg)
        if not 0 < self.test_fraction < 1:
            msg = f"EvaluationConfig.test_fraction must be in (0, 1), got {self.test_fraction!r}"
            raise ConfigError(msg)
        if self.protocol not in PROTOCOLS:
            msg = f"EvaluationConfig.protocol must be one of {PROTOCOLS}, got {self.protocol!r}"
            raise ConfigError(msg)
        if self.max_test_sessions is not None and self.max_test_sessions <= 0:
            msg = ("EvaluationConfig.max_test_sessions must be > 0, got "
                   f"{self.max_test_sessions!r}")
            raise ConfigError(msg)


def static_test_sessions(train: list[EvalSession], test: list[EvalSession]
                         ) -> list[EvalSession]:
    """The test sessions as the static protocol keeps them: items unseen in training
    dropped, then sessions with fewer than 2 events.

    Examples
    --------
    >>> row = lambda t, item: SessionRow(t, item, "u", "VIEW_PRODUCT")
    >>> train = [EvalSession("a", (row(1, "x"), row(2, "y")))]
    >>> test = [EvalSession("b", (row(3, "x"), row(4, "z"), row(5, "y"))),
    ...         EvalSession("c", (row(6, "x"), row(7, "z")))]
    >>> [(s.session_id, [r.item for r in s.events]) for s in static_test_sessions(train, test)]
    [('b', ['x', 'y'])]
    """
    known = {row.item for s in train for row in s.events}
    kept = []
    for session in test:
        rows = tuple(row for row in session.events if row.item in known)
        if len(rows) >= 2:
            kept.append(EvalSession(session.session_id, rows))
    return kept


def evaluate(sessions: list[EvalSession], config: EvaluationConfig | None = None,
             progress: Callable[[int], None] | None = None,
             start: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run the protocol and return the report (see the module documentation).

    ``start`` is called once with the number of test events to replay, ``progress``
    with the number done since its last call. The cycle collector is paused meanwhile
    (:func:`~shopstream.recommend.training.collector_paused`: the models make no
    cycles, and its collections would scan them again and again).
    """
    with collector_paused():
        return _evaluate(sessions, config, progress, start)


def _evaluate(sessions: list[EvalSession], config: EvaluationConfig | None,
              progress: Callable[[int], None] | None,
              start: Callable[[int], None] | None) -> dict[str, Any]:
    cfg = config or EvaluationConfig()
    cfg = replace(cfg, recommend=_every_kind(cfg.recommend.for_list_length(cfg.k)))
    train, test = split(sessions, cfg.test_fraction)
    if cfg.protocol == "static":
        test = static_test_sessions(train, test)
    if cfg.max_test_sessions is not None:
        test = test[:cfg.max_test_sessions]
    blend = cfg.recommend.blend
    tuning: dict[str, Any] | None = None
    started = time.perf_counter()
    if cfg.tune:
        from shopstream.evaluation.tuning import tune
        tuned, tuning = tune(train, cfg)
        cfg = replace(cfg, recommend=tuned)
        blend = tuned.blend
    harness = EvalHarness(cfg.recommend, blend)
    last = harness.learn_all(train, cfg.recommend.publish_every_ms
                             if cfg.protocol == "online" else None)
    first = min(s.start_ms for s in sessions)
    harness.trainer.publish_all(first, now_ms=last + 1)
    rules = harness.trainer.mine_rules(first)
    train_seconds = time.perf_counter() - started

    if start is not None:
        start(sum(len(s.events) for s in test))
    names = [name for name in REPORT_NAMES
             if name in harness.recommenders and REPORT_NAMES[name] not in cfg.skip]
    rankers = harness.rankers(names)
    metrics = {name: Metrics(cfg.k) for name, _ in rankers}
    started = time.perf_counter()
    skipped = (_static if cfg.protocol == "static" else _online)(
        harness, test, cfg, rankers, metrics, progress)
    test_seconds = time.perf_counter() - started
    catalog = {row.item for s in sessions for row in s.events}
    return {
        "protocol": cfg.protocol,
        "k": cfg.k,
        "sessions": {"train": len(train), "test": len(test)},
        "predictions": metrics["blend"].predictions,
        "skipped": skipped,
        "catalog": len(catalog),
        "rules": {"count": rules, "note": harness.trainer.rules_note},
        "recommenders": {name: m.result(len(catalog)) for name, m in metrics.items()},
        "blend": {"variant": blend.variant, "weights": dict(blend.weights),
                  "fallback": list(blend.fallback)},
        "half_life_ms": cfg.recommend.counts.half_life_ms,
        "tuning": tuning,
        "seconds": {"train": round(train_seconds, 2), "test": round(test_seconds, 2)},
    }


_Rankers = list[tuple[str, Callable[..., list[Any]]]]


def _every_kind(rec: RecommendConfig) -> RecommendConfig:
    """``rec`` learning every kind a strategy reads: SESSION_PAIRS, off in the pipeline
    unless configured, with a window of :data:`~shopstream.recommend.session_pairs.WINDOW`
    products."""
    if rec.pairs.session_window:
        return rec
    return replace(rec, pairs=replace(rec.pairs, session_window=SESSION_WINDOW))


def _predict(ctx: Any, target: str, k: int, rankers: _Rankers,
             metrics: dict[str, Metrics], reused_ms: Callable[[], float]) -> None:
    """Ask every ranker; the blend is charged the time of an answer it reused."""
    clock = time.perf_counter
    for name, rank in rankers:
        t0 = clock()
        ranked = [entry[0] for entry in rank(ctx, k)]
        spent = (clock() - t0) * 1000
        if name == "blend":
            spent += reused_ms()
        metrics[name].record(ranked, target, spent)


def _static(harness: EvalHarness, test: list[EvalSession], cfg: EvaluationConfig,
            rankers: _Rankers, metrics: dict[str, Metrics],
            progress: Callable[[int], None] | None) -> int:
    rec = cfg.recommend
    users = harness.trainer.users
    skipped = 0
    for session in test:
        cursor = SessionCursor(session, rec.pairs.session_gap_ms,
                               harness.trainer.lists, rec.serve)
        own: dict[str, UserHistory] = {}
        for i, row in enumerate(session.events):
            history = own.get(row.user_id)
            if history is None:
                found = users.get(row.user_id)
                history = own[row.user_id] = copy.deepcopy(found) if found else UserHistory()
            if i:
                ctx = cursor.context(row, history.products(rec.serve.history))
                if ctx.excludes(row.item):
                    skipped += 1
                else:
                    _predict(ctx, row.item, cfg.k, rankers, metrics, harness.knn.reused_ms)
            cursor.advance(row)
            history.learn(row.item, row.event_type, row.timestamp_ms, rec.history)
        if progress is not None:
            progress(len(session.events))
    return skipped


def _online(harness: EvalHarness, test: list[EvalSession], cfg: EvaluationConfig,
            rankers: _Rankers, metrics: dict[str, Metrics],
            progress: Callable[[int], None] | None) -> int:
    rec = cfg.recommend
    every = rec.publish_every_ms
    trainer = harness.trainer
    timeline: list[tuple[int, int, int]] = sorted(
        (row.timestamp_ms, n, i) for n, s in enumerate(test) for i, row in enumerate(s.events))
    cursors = [SessionCursor(s, rec.pairs.session_gap_ms, trainer.lists, rec.serve)
               for s in test]
    next_publish: int | None = None
    skipped = 0
    for ts, n, i in timeline:
        if next_publish is None or ts >= next_publish:
            if next_publish is not None:
                trainer.publish(next_publish)
            next_publish = ts - ts % every + every
        session = test[n]
        row: SessionRow = session.events[i]
        cursor = cursors[n]
        if i:
            ctx = cursor.context(row, trainer.history(row.user_id))
            if ctx.excludes(row.item):
                skipped += 1
            else:
                _predict(ctx, row.item, cfg.k, rankers, metrics, harness.knn.reused_ms)
        cursor.advance(row)
        harness.learn(session, row)
        if i == len(session.events) - 1:
            harness.learn_end(session)
        if progress is not None:
            progress(1)
    return skipped
