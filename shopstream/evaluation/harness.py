"""What both evaluation protocols share: the recommenders under test, fed exactly as the
pipeline feeds them, and the context of each prediction.

:class:`EvalHarness` holds a :class:`~shopstream.recommend.training.ModelTrainer` (the
pipeline's learning and publishing stages in one process), every strategy serving from
its published lists, the session k-NN baseline (offline only) and the blend. The report
asks session k-NN alone, then the blend, for the same context: when the blend weighs
it, it reuses that answer (:class:`ReusedAnswer`; the blend's latency is charged the
time the answer took): one k-NN computation per prediction instead of two.
:class:`SessionCursor` walks one session as the recommendation operator would: the
session's context (its latest products and its cart) starts afresh after a
``session_gap_ms`` pause, and the cart empties on a purchase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from shopstream.evaluation.sessions import EvalSession, SessionRow
from shopstream.recommend.base import (
    ANCHORED_KINDS,
    BLENDED,
    VIEW_BASED,
    RecContext,
    Recommender,
    Scored,
    Step,
)
from shopstream.recommend.blend import BlendConfig, Blender
from shopstream.recommend.published import PublishedLists
from shopstream.recommend.session_votes import SessionVotes
from shopstream.recommend.strategies import ServeConfig
from shopstream.recommend.suite import RecommendConfig, build_recommenders
from shopstream.recommend.training import ModelTrainer, collector_paused

__all__ = ["REPORT_NAMES", "EvalHarness", "ReusedAnswer", "SessionCursor", "basket_of"]

#: Report key of each evaluated single strategy.
REPORT_NAMES: dict[str, str] = {
    "POPULAR": "popularity", "TRENDING": "trending", "NEXT_ITEM": "next_item",
    "CO_OCCURRENCE": "co_occurrence", "CROSS_SELL": "bought_together",
    "BASKET_BASED": "rules", "PERSONAL": "personal", "AFFINITY": "affinity",
    "VIEW_BASED": "session_knn", "SESSION_PAIRS": "session_pairs"}

_BASKET_KINDS = frozenset({"ADD_TO_CART", "PURCHASE"})
#: The session votes a cursor keeps: each anchored kind's (for the single strategies)
#: and the fused ones (for the blend, as the operator keeps them).
_VOTED = (*ANCHORED_KINDS, BLENDED)


def basket_of(session: EvalSession) -> tuple[str, ...]:
    """The distinct products a session added or bought."""
    return tuple(dict.fromkeys(e.item for e in session.events if e.event_type in _BASKET_KINDS))


class ReusedAnswer(Recommender):
    """A recommender asked twice in a row for the same context object and list length
    answers the second time from memory (its answer is read-only).

    :meth:`reused_ms` gives the time the reused answer took to compute, once per reuse,
    so that a caller timing the second asker can charge it.

    Examples
    --------
    >>> from shopstream.recommend.session_knn import SessionKnn
    >>> knn = ReusedAnswer(SessionKnn())
    >>> for t, p in enumerate("xyz"):
    ...     knn.learn_one(Step("a", "u", p, "VIEW_PRODUCT", t))
    >>> ctx = RecContext("now", "u", ("x",), frozenset(), 9)
    >>> knn.rank(ctx, 2) is knn.rank(ctx, 2), knn.reused_ms() >= 0, knn.reused_ms()
    (True, True, 0.0)
    """

    def __init__(self, inner: Recommender) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self._context: RecContext | None = None
        self._k = 0
        self._answer: list[Scored] = []
        self._spent_ms = 0.0
        self._reused = False

    def learn_one(self, step: Step) -> None:
        self.inner.learn_one(step)

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        if context is self._context and k == self._k:
            self._reused = True
            return self._answer
        started = time.perf_counter()
        answer = self.inner.rank(context, k)
        self._spent_ms = (time.perf_counter() - started) * 1000
        self._context, self._k, self._answer, self._reused = context, k, answer, False
        return answer

    def reused_ms(self) -> float:
        """The milliseconds the answer reused since the last call took to compute (0.0
        when none was reused)."""
        if not self._reused:
            return 0.0
        self._reused = False
        return self._spent_ms


class EvalHarness:
    """The recommenders under test and their learning; see the module documentation
    (``record``: the trainer keeps its merges, for
    :meth:`~shopstream.recommend.training.ModelTrainer.with_counts`)."""

    def __init__(self, config: RecommendConfig, blend: BlendConfig | None = None,
                 record: bool = False) -> None:
        if blend is not None:
            config = replace(config, blend=blend)
        self.config = config
        self.trainer = ModelTrainer(config, record=record)
        self.recommenders = build_recommenders(config, self.trainer.lists)
        self.knn = ReusedAnswer(self.recommenders[VIEW_BASED])
        self.recommenders[VIEW_BASED] = self.knn
        self.blender = Blender(self.recommenders, config.blend)

    def learn(self, session: EvalSession, row: SessionRow) -> None:
        """Learn one event of ``session``."""
        self.trainer.learn_step(session.session_id, row.user_id, row.item, row.event_type,
                                row.timestamp_ms)
        self.knn.learn_one(Step(session.session_id, row.user_id, row.item, row.event_type,
                                row.timestamp_ms))

    def learn_end(self, session: EvalSession) -> None:
        """Learn a session that ended: its basket."""
        items = basket_of(session)
        if items:
            self.trainer.learn_basket(items, session.events[-1].timestamp_ms)

    def learn_all(self, sessions: list[EvalSession], publish_every_ms: int | None,
                  progress: Callable[[int], None] | None = None,
                  defer_lists: bool = True) -> int:
        """Learn ``sessions`` in event-time order (each basket when its session ends),
        publishing every ``publish_every_ms`` of event time (``None``: never); return the
        last event time. With ``defer_lists`` (the default) the per-product lists are
        left to the caller's ``trainer.publish_all``, which republishes them all
        (``trainer.defer_lists``: the same lists, without computing the ones it would
        forget)."""
        self.trainer.defer_lists = defer_lists
        timeline = sorted((row.timestamp_ms, n, i) for n, s in enumerate(sessions)
                          for i, row in enumerate(s.events))
        with collector_paused():
            return self._learn_timeline(sessions, timeline, publish_every_ms, progress)

    def _learn_timeline(self, sessions: list[EvalSession], timeline: list[tuple[int, int, int]],
                        publish_every_ms: int | None,
                        progress: Callable[[int], None] | None) -> int:
        next_publish = None
        last = 0
        for done, (ts, n, i) in enumerate(timeline, start=1):
            session = sessions[n]
            if publish_every_ms is not None:
                if next_publish is None:
                    next_publish = ts - ts % publish_every_ms + publish_every_ms
                elif ts >= next_publish:
                    self.trainer.publish(next_publish)
                    next_publish = ts - ts % publish_every_ms + publish_every_ms
            self.learn(session, session.events[i])
            if i == len(session.events) - 1:
                self.learn_end(session)
            last = ts
            if progress is not None and done % 10_000 == 0:
                progress(10_000)
        return last

    def rankers(self, names: Iterable[str]) -> list[tuple[str, Callable[[RecContext, int],
                                                                       list[Any]]]]:
        """``(report name, rank)`` of each strategy in ``names``, then the blend's."""
        out: list[tuple[str, Callable[[RecContext, int], list[Any]]]] = [
            (REPORT_NAMES[name], self.recommenders[name].rank) for name in names]
        out.append(("blend", self.blender.rank))
        return out


class SessionCursor:
    """One session walked event by event, with the context the operator would hold."""

    def __init__(self, session: EvalSession, gap_ms: int, lists: PublishedLists,
                 serve: ServeConfig) -> None:
        self.session = session
        self.session_items = serve.session_cap
        self.gap_ms = gap_ms
        self.lists = lists
        self.serve = serve
        self.items: dict[str, None] = {}
        self.cart: set[str] = set()
        self.votes = {kind: SessionVotes() for kind in _VOTED}
        self.last_ms: int | None = None

    def _expire(self, ts: int) -> None:
        if self.last_ms is not None and ts - self.last_ms >= self.gap_ms:
            self.items.clear()
            self.cart.clear()
            self.votes = {kind: SessionVotes() for kind in _VOTED}

    def context(self, row: SessionRow, history: tuple[str, ...]) -> RecContext:
        """The context of a prediction made just before ``row``."""
        self._expire(row.timestamp_ms)
        return RecContext(self.session.session_id, row.user_id, tuple(self.items),
                          frozenset(self.cart), row.timestamp_ms, history, self.votes)

    def advance(self, row: SessionRow) -> None:
        """Take ``row`` into the context."""
        self._expire(row.timestamp_ms)
        self.last_ms = row.timestamp_ms
        if row.event_type == "PURCHASE":
            self.cart.clear()
            return
        if row.item not in self.items:
            serve = self.serve
            tables = self.lists.tables
            for kind, votes in self.votes.items():
                votes.add(row.item, tables.get(kind), row.timestamp_ms, serve.depth,
                          serve.decay, serve.votes)
        self.items.pop(row.item, None)
        self.items[row.item] = None
        if len(self.items) > self.session_items:
            del self.items[next(iter(self.items))]
        if row.event_type == "ADD_TO_CART":
            self.cart.add(row.item)
