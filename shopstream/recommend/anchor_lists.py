"""One product's merged counts of every kind, and the lists they publish.

The ``rec-models`` stage keeps one :class:`AnchorLists` per product in keyed state;
:class:`~shopstream.recommend.training.ModelTrainer` keeps one per product in memory to
do the same offline. Deltas from the learners are added per kind
(:class:`~shopstream.recommend.counts.AnchorCounts`); :meth:`AnchorLists.publish` gives
each changed kind's top list (but for the kinds it is told nobody reads) and, when a kind
the blend weighs changed, the product's ``BLENDED`` list
(:func:`~shopstream.recommend.fusion.fuse`), unless it is the one already published:
its votes depend only on the ranks of the fused lists, so a change of counts that moves
no product in them republishes nothing (about a third of the fused lists on the
simulator's shop).

Examples
--------
>>> from shopstream.events.recommendations import PairDelta
>>> from shopstream.recommend.counts import CountsConfig
>>> lists = AnchorLists("a")
>>> lists.add(PairDelta("NEXT_ITEM", "a", ("b",), (2.0,)), 0, CountsConfig())
>>> [(m.kind, m.items) for m in lists.publish(1, CountsConfig(), {"NEXT_ITEM": 1.0})]
[('NEXT_ITEM', ('b',)), ('BLENDED', ('b',))]

More of ``b`` changes its count, not its rank: the fused list stays as published, and a
reader that keeps only ``BLENDED`` lists is not sent the ``NEXT_ITEM`` one:

>>> lists.add(PairDelta("NEXT_ITEM", "a", ("b",), (1.0,)), 2, CountsConfig())
>>> [(m.kind, m.scores) for m in lists.publish(3, CountsConfig(), {"NEXT_ITEM": 1.0})]
[('NEXT_ITEM', (3.0,))]
>>> lists.add(PairDelta("NEXT_ITEM", "a", ("c",), (5.0,)), 4, CountsConfig())
>>> [(m.kind, m.items) for m in lists.publish(5, CountsConfig(), {"NEXT_ITEM": 1.0},
...                                           unread={"NEXT_ITEM"})]
[('BLENDED', ('c', 'b'))]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shopstream.events.recommendations import ModelList, PairDelta
from shopstream.recommend.base import BLENDED
from shopstream.recommend.counts import AnchorCounts, CountsConfig
from shopstream.recommend.fusion import fuse
from shopstream.recommend.session_pairs import counts_config

__all__ = ["AnchorLists"]

#: ``(items, scores)``; a ``BLENDED`` entry also holds its ``sources``
_Ranked = tuple[Any, ...]


class AnchorLists:
    """Counts per kind of one anchor (``""``: popularity) and its published lists."""

    __slots__ = ("anchor", "counts", "pending", "top")

    def __init__(self, anchor: str) -> None:
        self.anchor = anchor
        self.counts: dict[str, AnchorCounts] = {}
        #: the latest list of each kind (``BLENDED``: the latest published, with sources)
        self.top: dict[str, _Ranked] = {}
        #: kinds changed since the last publication
        self.pending: set[str] = set()

    def add(self, delta: PairDelta, at_ms: int, config: CountsConfig) -> None:
        """Add one learner's partial counts of one kind."""
        counts = self.counts.get(delta.kind)
        if counts is None:
            counts = self.counts[delta.kind] = AnchorCounts()
        counts.add(delta.items, delta.weights, at_ms, counts_config(delta.kind, config))
        self.pending.add(delta.kind)

    def republish(self) -> None:
        """Have the next :meth:`publish` give every list afresh, the fused one included
        (the lists published so far were forgotten)."""
        self.pending.update(self.counts)
        self.top.pop(BLENDED, None)

    def publish(self, valid_from: int, config: CountsConfig, weights: Mapping[str, float],
                unread: Collection[str] = ()) -> list[ModelList]:
        """The lists of the changed kinds (in kind order) but ``unread``, then the
        ``BLENDED`` list when one of ``weights``' kinds changed and the fused list is not
        the one published last; valid from ``valid_from``."""
        out = []
        weighed = False  # whether a kind the blend weighs changed
        # whether its products or their order changed (or no fused list is held)
        moved = BLENDED not in self.top
        for kind in sorted(self.pending):
            before = self.top.get(kind)
            items, scores = self.top[kind] = self.counts[kind].top(config)
            if kind not in unread:
                out.append(ModelList(kind, self.anchor, valid_from, items, scores))
            if kind in weights:
                weighed = True
                moved = moved or before is None or before[0] != items
        self.pending.clear()
        # The fused votes depend only on the ranks: unmoved lists fuse to the same list.
        if weighed and moved and self.anchor:
            blended = fuse(self.top, weights, config.top_n)
            if self.top.get(BLENDED) != blended:
                self.top[BLENDED] = blended
                out.append(ModelList(BLENDED, self.anchor, valid_from, *blended))
        return out
