"""The recommender's learning stage: pair counts per key group, published as deltas.

Keyed by key group (a stable hash of the session id, so a session's actions meet in one
place and the stage spreads over ``key_groups`` partitions). Each key group keeps a
:class:`~shopstream.recommend.pairs.PairLearner` in its state and learns every product
view, add to cart and purchased item of ``events`` (next items, co-occurrence,
popularity) and every completed basket of ``basket-completions`` (bought together). At
the end of every ``publish_every_ms`` of event time, or early when its pending counts
pass their cap, it sends what it learned to the internal ``rec-pairs`` stream as
:class:`~shopstream.events.recommendations.PairDelta` records keyed by anchor,
where :class:`~shopstream.operators.rec_models.ModelListOperator` merges them: the
two-phase aggregation of the architecture (partials per key group, merged per anchor).

Cost: ``O(window)`` per action and ``O(basket_items ** 2)`` per basket (see
:mod:`shopstream.recommend.pairs`); state per key group is capped by ``max_sessions``
and ``max_pending``.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> from shopstream.recommend.suite import RecommendConfig
>>> op = PairLearningOperator(RecommendConfig(publish_every_ms=60_000))
>>> views = [ShopperEvent(EventType.VIEW_PRODUCT, t, "s", product_id=p)
...          for t, p in [(1_000, "a"), (2_000, "b")]]
>>> outs = run_operator(op, views, key_by=lambda e: "g0", sink_streams=("rec-pairs",))
>>> [(o.key, o.record.items) for o in outs]
[('a', ('b',)), ('a', ('b',)), ('b', ('a',)), ('*', ('a', 'b'))]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import BasketCompletion, Output
from shopstream.recommend.pairs import PairLearner
from shopstream.recommend.suite import RecommendConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["PairLearningOperator", "anchor_key"]

_LEARNER = ValueStateDescriptor[PairLearner]("learner")


def anchor_key(anchor: str) -> str:
    """Key of the ``rec-pairs`` stream: the anchor product (``*`` for popularity)."""
    return anchor or "*"


class PairLearningOperator(KeyedOperator[Any]):
    """Keyed by key group; see the module documentation."""

    name = "rec-learning"
    state_descriptors = (_LEARNER,)

    def __init__(self, config: RecommendConfig | None = None) -> None:
        self.config = config or RecommendConfig()
        # The publication timer each key registered last: registering it again per
        # action costs more than the check (a cache only: after a restore the first
        # action registers again, which is harmless).
        self._timers: dict[str, int] = {}

    def process_element(self, element: Any, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_LEARNER)
        learner = state.value()
        if learner is None:
            learner = PairLearner(self.config.pairs)
            state.update(learner)
        ts = ctx.timestamp_ms
        if isinstance(element, ShopperEvent):
            if element.items:
                for item in element.items:
                    learner.learn_step(element.session_id, item.product_id,
                                       element.event_type, ts)
            elif element.product_id is not None:
                learner.learn_step(element.session_id, element.product_id,
                                   element.event_type, ts)
            else:
                return ()
        elif isinstance(element, BasketCompletion):
            if element.status != "COMPLETED" or not element.items:
                return ()
            learner.learn_basket([line.product_id for line in element.items])
        else:
            return ()
        if learner.full:
            out = self._deltas(learner, ctx.key)
            state.update(learner)  # changed in place: a runner may hold state serialised
            return out
        every = self.config.publish_every_ms
        due = ts - ts % every + every - 1
        if self._timers.get(ctx.key) != due:
            self._timers[ctx.key] = due
            ctx.register_event_timer(due)
        state.update(learner)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_LEARNER)
        learner = state.value()
        if learner is None:
            return ()
        out = self._deltas(learner, ctx.key)
        state.update(learner)
        return out

    @staticmethod
    def _deltas(learner: PairLearner, key: str) -> list[Output]:
        stream = streams.REC_PAIRS
        # anchor_key inlined: one call fewer per delta
        return [Output(stream, d.anchor or "*", d) for d in learner.drain()]
