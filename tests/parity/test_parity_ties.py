"""The tie rule of the contract, on the recommender's merge stage: elements of one key
with the same timestamp from different upstream keys come in any order on a parallel
engine, and the results must not depend on it.

The learners of :class:`~shopstream.operators.rec_learning.PairLearningOperator` all
publish their deltas at the same interval end, so the merge stage
(:class:`~shopstream.operators.rec_models.ModelListOperator`) gets them at one time, in
the order the engine fires the learners' timers: registration order on the embedded
runner, key order on Flink. Their weights (``1 / distance``) are not integers, and
float addition is not associative: ``1 + 1 + 1/3`` and ``1/3 + 1 + 1`` differ in the last
bit, enough to break a tie between two products the other way and reorder the published
list. That was the cause of the 5 recommendations (of 7,459) whose score differed on
Flink in ``bench/flink_bench.py --sessions 3000 --pipelines default``.

Here the deltas are replayed in every order (the embedded runner keeps the arrival order
of ties, so each permutation of the input is one delivery order).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from shopstream.events import EventType, ShopperEvent, streams
from shopstream.events.recommendations import PairDelta
from shopstream.events.records import Output
from shopstream.operators.rec_models import ModelListOperator
from shopstream.recommend.base import CO_OCCURRENCE
from shopstream.recommend.counts import AnchorCounts, CountsConfig
from shopstream.runners.embedded.harness import run_topology
from shopstream.state import Context, KeyedOperator
from shopstream.topology import Stage, Topology

THIRD = 1 / 3

#: One interval's deltas for anchor ``a``, one per learner: ``b`` gets 1 + 1 + 1/3
#: (order-dependent in floats), ``c`` 2 + 1/3 (the same sum in either order): a tie that
#: only an exact sum keeps a tie.
DELTAS = {
    "g1": PairDelta(CO_OCCURRENCE, "a", ("b",), (1.0,)),
    "g2": PairDelta(CO_OCCURRENCE, "a", ("b",), (1.0,)),
    "g3": PairDelta(CO_OCCURRENCE, "a", ("b", "c"), (THIRD, THIRD)),
    "g4": PairDelta(CO_OCCURRENCE, "a", ("c",), (2.0,)),
}


class Learners(KeyedOperator[ShopperEvent]):
    """Stands for the learners: each event (session = learner) emits that learner's
    delta on ``rec-pairs`` at the event's time."""

    name = "learners"

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        delta = DELTAS[element.session_id]
        return (Output(streams.REC_PAIRS, delta.anchor, delta),)


def published(order: tuple[str, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    topology = Topology((
        Stage(Learners(), (streams.EVENTS,), lambda e: e.session_id),
        Stage(ModelListOperator(), (streams.REC_PAIRS,), lambda d: d.anchor)),
        sink_streams=(streams.RECOMMENDATION_MODELS,))
    events = [ShopperEvent(EventType.PAGE_VIEW, 60_000, learner) for learner in order]
    return [(o.record.kind, o.record.anchor, o.record.items)
            for o in run_topology(topology, events) if o.record.items]


def test_merge_stage_publishes_the_same_lists_in_any_delta_order() -> None:
    results = {tuple(published(order)) for order in itertools.permutations(DELTAS)}
    assert len(results) == 1, results
    # b and c tie exactly: product order.
    assert next(iter(results))[0][2] == ("b", "c")


def test_anchor_counts_of_one_time_do_not_depend_on_delta_order() -> None:
    config = CountsConfig()
    tops = set()
    for order in itertools.permutations(DELTAS.values()):
        counts = AnchorCounts()
        counts.add(("b", "c"), (0.5, 0.5), 0, config)  # earlier counts, decayed later
        for delta in order:
            counts.add(delta.items, delta.weights, 3_600_000, config)
        tops.add(counts.top(config))
    assert len(tops) == 1, tops
