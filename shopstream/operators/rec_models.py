"""The recommender's merge stage: one product's counts, published as versioned lists.

Keyed by anchor product over the internal ``rec-pairs`` stream (popularity, which has no
anchor, on the key ``*``): the partial counts of every key group of
:class:`~shopstream.operators.rec_learning.PairLearningOperator` are added into the
anchor's :class:`~shopstream.recommend.counts.AnchorCounts`, one per kind (bounded,
decaying). Once everything of one event time has arrived (a timer at that time), each
changed kind's top list goes to ``recommendation-models`` as a
:class:`~shopstream.events.recommendations.ModelList` valid from the next millisecond,
and with it the anchor's ``BLENDED`` list: its next items, co-occurring and
bought-together products fused by the blend's weights
(:func:`~shopstream.recommend.fusion.fuse`), which is what a request reads per session
product. Every event after a publication sees it, whatever the order in which the lists
of different anchors arrive. An anchor without news for ``anchor_ttl_ms`` is forgotten,
and an empty list of each kind says so.

Only what a reader keeps is published: the anchored kinds the configured blend reads
through the ``BLENDED`` lists alone (:meth:`RecommendConfig.unread_kinds
<shopstream.recommend.suite.RecommendConfig.unread_kinds>`; by default next items,
co-occurrence and bought together, but co-occurrence while AFFINITY votes) are counted
and fused but not sent, and a ``BLENDED`` list equal to the one published last is not
sent again (its votes depend only on ranks).

Cost: ``O(len(delta))`` amortised per delta, and per publication one sort of at most
``2 * capacity`` entries per changed kind plus a fusion of ``3 * top_n``; state per
anchor ``O(kinds * capacity)``.

Examples
--------
Two key groups learn that ``b`` follows ``a``; the merged list is fused into ``a``'s
``BLENDED`` list, published once, at the end of the five-minute publication interval
(and an empty one when the anchor expires, 30 days later); the default blend reads no
``NEXT_ITEM`` list, so none is sent:

>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.operators.rec_learning import PairLearningOperator
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> topology = Topology((
...     Stage(PairLearningOperator(), ("events",), lambda e: e.session_id),
...     Stage(ModelListOperator(), ("rec-pairs",), lambda d: d.anchor or "*")),
...     sink_streams=("recommendation-models",))
>>> views = [ShopperEvent(EventType.VIEW_PRODUCT, t, s, product_id=p)
...          for t, s, p in [(1, "s1", "a"), (2, "s1", "b"), (3, "s2", "a"), (4, "s2", "b")]]
>>> [(o.record.kind, o.record.anchor, o.record.valid_from, o.record.items)
...  for o in run_topology(topology, views) if o.record.anchor == "a"]
[('BLENDED', 'a', 300000, ('b',)), ('BLENDED', 'a', 2592300000, ())]
"""

from __future__ import annotations

from collections.abc import Iterable

from shopstream.events import streams
from shopstream.events.recommendations import ModelList, PairDelta
from shopstream.events.records import Output
from shopstream.recommend.anchor_lists import AnchorLists
from shopstream.recommend.base import ANCHORED_KINDS, BLENDED
from shopstream.recommend.suite import RecommendConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["ModelListOperator"]

class _Anchor(AnchorLists):
    """The anchor's lists and when it last had news (for its expiry)."""

    __slots__ = ("expiry_ms", "last_ms")

    def __init__(self, anchor: str) -> None:
        super().__init__(anchor)
        self.last_ms = 0
        self.expiry_ms: int | None = None


_ANCHOR = ValueStateDescriptor[_Anchor]("anchor")


class ModelListOperator(KeyedOperator[PairDelta]):
    """Keyed by anchor product; see the module documentation."""

    name = "rec-models"
    state_descriptors = (_ANCHOR,)

    def __init__(self, config: RecommendConfig | None = None,
                 anchor_ttl_ms: int = 30 * 86_400_000) -> None:
        self.config = config or RecommendConfig()
        self.anchor_ttl_ms = anchor_ttl_ms
        self._weights = {kind: w for kind, w in self.config.blend.weights
                         if kind in ANCHORED_KINDS and w > 0}
        self._unread = self.config.unread_kinds()

    def process_element(self, element: PairDelta, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_ANCHOR)
        entry = state.value()
        if entry is None:
            entry = _Anchor(element.anchor)
            state.update(entry)
        ts = ctx.timestamp_ms
        if not entry.pending:
            ctx.register_event_timer(ts)
        entry.add(element, ts, self.config.counts)
        entry.last_ms = ts
        if entry.expiry_ms is None:
            entry.expiry_ms = ts + self.anchor_ttl_ms
            ctx.register_event_timer(entry.expiry_ms)
        state.update(entry)  # changed in place: a runner may hold state serialised
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_ANCHOR)
        entry = state.value()
        if entry is None:
            return ()
        out: list[Output] = []
        if entry.pending and timestamp_ms >= entry.last_ms:
            out.extend(Output(streams.RECOMMENDATION_MODELS, ctx.key, model) for model in
                       entry.publish(timestamp_ms + 1, self.config.counts, self._weights,
                                     self._unread))
        if entry.expiry_ms is not None and timestamp_ms >= entry.expiry_ms:
            due = entry.last_ms + self.anchor_ttl_ms
            if timestamp_ms >= due:
                state.clear()
                # Recommenders drop the lists too: an empty one of each kind says so.
                kinds = [kind for kind in sorted(entry.counts) if kind not in self._unread]
                kinds += [BLENDED] if BLENDED in entry.top else []
                out.extend(Output(streams.RECOMMENDATION_MODELS, ctx.key, ModelList(
                    kind, entry.anchor, timestamp_ms + 1, (), ())) for kind in kinds)
                return out
            entry.expiry_ms = due
            ctx.register_event_timer(due)
        state.update(entry)
        return out
