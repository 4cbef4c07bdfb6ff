"""Publishing a retrained model to the pipeline ``shopstream serve`` hosts, without a restart.

The recommendation operator learns nothing shared itself: it reads versioned lists from
its ``recommendation-models`` broadcast input (:mod:`shopstream.recommend.published`).
:class:`ModelPublisher` feeds a retrained model into that same input: each anchor's newest
``BLENDED``, ``NEXT_ITEM``, ``CO_OCCURRENCE``, ``CROSS_SELL`` and ``POPULAR`` list becomes a
:class:`~shopstream.events.recommendations.ModelList` handed to the operator's
``process_broadcast``, exactly as the ``rec-models`` stage's lists are (kinds the operator
does not keep are dropped by it, as usual).

Thread safety: the engine belongs to the pipeline thread. The job's thread only queues
the lists (:meth:`Engine.call_soon <shopstream.runners.embedded.engine.Engine.call_soon>`);
the pipeline thread applies them at the start of the engine's next drain (the next batch
of events, or an idle advance while none come): between two batches, never during one.
The lists are stamped valid from the pipeline's watermark + 1 at that moment, so every
event from then on sees them; lists the live stages publish afterwards (newer event
time) still win for their anchors, and an anchor the live stages never touch keeps the
retrained list. Rules and the trending list are not published: the live rule miner and
trending stage are fresher.

Examples
--------
>>> from shopstream.api.live import LivePipeline
>>> from shopstream.jobs.models import TrainedModel
>>> live = LivePipeline(None)
>>> model = TrainedModel(1, 0, 1, "replay", 2, {"BLENDED": {"tea": [(1, (("milk",), (0.5,),
...                      ("NEXT_ITEM",)))]}}, {})
>>> publisher = ModelPublisher(live)
>>> publisher.publish(model)
1
>>> publisher.apply_pending()  # what the pipeline thread does at its next drain
1
>>> stage = publisher.stages[0][1]
>>> stage.lists.tables["BLENDED"]["tea"][-1][1]
(('milk',), (0.5,), ('NEXT_ITEM',))
"""

from __future__ import annotations

import threading
from typing import Any

from shopstream.events import streams
from shopstream.events.recommendations import ModelList
from shopstream.jobs.models import TrainedModel
from shopstream.recommend.base import BLENDED, CO_OCCURRENCE, CROSS_SELL, NEXT_ITEM, POPULAR

__all__ = ["PUBLISHED_KINDS", "ModelPublisher"]

#: The kinds a retrain publishes.
PUBLISHED_KINDS = (BLENDED, NEXT_ITEM, CO_OCCURRENCE, CROSS_SELL, POPULAR)


class ModelPublisher:
    """Hands retrained lists to the stages of ``live`` that read ``recommendation-models``.

    ``published`` counts the lists applied, ``version`` is the last model version applied.
    """

    def __init__(self, live: Any) -> None:
        self.live = live
        self.stages = [(index, stage.operator)
                       for index, stage in enumerate(live.topology.stages)
                       if streams.RECOMMENDATION_MODELS in stage.broadcast_inputs]
        self._pending: list[tuple[int, list[tuple[str, str, Any]]]] = []
        self._lock = threading.Lock()
        self.published = 0
        self.version = 0

    def publish(self, model: TrainedModel) -> int:
        """Queue ``model``'s lists for the pipeline thread; return how many."""
        lists = []
        for kind in PUBLISHED_KINDS:
            for anchor, versions in model.lists.get(kind, {}).items():
                if isinstance(anchor, str) and versions:
                    lists.append((kind, anchor, versions[-1][1]))
        with self._lock:
            self._pending.append((model.version, lists))
        self.live.engine.call_soon(self._apply_on_engine)
        return len(lists)

    def _apply_on_engine(self, _: Any) -> None:
        self.apply_pending()

    def apply_pending(self) -> int:
        """Apply the queued lists (on the pipeline thread); return how many."""
        with self._lock:
            pending, self._pending = self._pending, []
        engine = self.live.engine
        valid_from = max(engine.watermark_ms + 1, 0)
        applied = 0
        for version, lists in pending:
            for kind, anchor, value in lists:
                items, scores = value[0], value[1]
                sources = value[2] if len(value) > 2 else ()
                update = ModelList(kind, anchor, valid_from, items, scores, sources)
                for index, operator in self.stages:
                    ctx = engine.contexts[index]
                    # Leave the stage's context as it was (nothing else reads it now).
                    saved = ctx.key, ctx.timestamp_ms, ctx.watermark_ms
                    ctx.key, ctx.timestamp_ms, ctx.watermark_ms = "", valid_from, valid_from - 1
                    try:
                        operator.process_broadcast(update, ctx)
                    finally:
                        ctx.key, ctx.timestamp_ms, ctx.watermark_ms = saved
                applied += 1
            self.version = version
        self.published += applied
        return applied
