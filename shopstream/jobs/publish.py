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

The same publication hands the Customer 360 operator (every stage reading
``profile-models``) the model's profile part (:func:`profile_model`): a
:class:`~shopstream.events.profile_models.ProfileModel` with the refitted RFM thresholds
and the BG/NBD and Gamma-Gamma parameters (those carried over from an earlier version
when this retrain could not fit them; none when no version ever did: the operator's
static configuration then stays in force for them), stamped valid from the same
watermark + 1, so profiles computed at that event time or later use it.

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
>>> profiles = publisher.profile_stages[0][1]  # the Customer 360 operator
>>> profiles.models.at(live.engine.watermark_ms + 1).rfm, publisher.profile_version
(RfmConfig(recent_days=30.0, lapsed_days=90.0, frequent_orders=5, high_value=500.0), 1)
"""

from __future__ import annotations

import threading
from typing import Any

from shopstream.events import streams
from shopstream.events.profile_models import (
    BgNbdModel,
    GammaGammaModel,
    ProfileModel,
    RfmThresholds,
)
from shopstream.events.recommendations import ModelList
from shopstream.jobs.models import TrainedModel
from shopstream.recommend.base import BLENDED, CO_OCCURRENCE, CROSS_SELL, NEXT_ITEM, POPULAR

__all__ = ["PUBLISHED_KINDS", "ModelPublisher", "profile_model"]

#: The kinds a retrain publishes.
PUBLISHED_KINDS = (BLENDED, NEXT_ITEM, CO_OCCURRENCE, CROSS_SELL, POPULAR)


def profile_model(model: TrainedModel, valid_from_ms: int) -> ProfileModel:
    """The profile part of ``model`` (see the module docs), valid from ``valid_from_ms``.

    Examples
    --------
    >>> model = TrainedModel(2, 0, 1, "replay", 0, {}, {}, ltv={"fitted": False,
    ...     "previous": {"version": 1, "bgnbd": {"r": 0.2, "alpha": 4.0, "a": 0.8,
    ...     "b": 2.4}, "gammaGamma": {"p": 6.0, "q": 3.7, "gamma": 15.0}}})
    >>> part = profile_model(model, 500)
    >>> part.version, part.valid_from_ms, part.bgnbd.r, part.rfm.frequent_orders
    (2, 500, 0.2, 5)
    """
    segments, bgnbd, spend, _ = model.profile_parts()
    rfm = RfmThresholds(float(segments["recent_days"]), float(segments["lapsed_days"]),
                        int(segments["frequent_orders"]), float(segments["high_value"]))
    return ProfileModel(
        model.version, valid_from_ms, rfm,
        BgNbdModel(bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"]) if bgnbd else None,
        GammaGammaModel(spend["p"], spend["q"], spend["gamma"]) if spend else None)


class ModelPublisher:
    """Hands retrained lists to the stages of ``live`` that read ``recommendation-models``
    and the profile part to those that read ``profile-models``.

    ``published`` counts the lists applied, ``version`` is the last model version applied;
    ``profile_models`` counts profile parts applied (once per stage), ``profile_version``
    is the version of the last one.
    """

    def __init__(self, live: Any) -> None:
        self.live = live
        self.stages = [(index, stage.operator)
                       for index, stage in enumerate(live.topology.stages)
                       if streams.RECOMMENDATION_MODELS in stage.broadcast_inputs]
        self.profile_stages = [(index, stage.operator)
                               for index, stage in enumerate(live.topology.stages)
                               if streams.PROFILE_MODELS in stage.broadcast_inputs]
        self._pending: list[tuple[int, list[tuple[str, str, Any]], TrainedModel | None]] = []
        self._lock = threading.Lock()
        self.published = 0
        self.version = 0
        self.profile_models = 0
        self.profile_version = 0

    def publish(self, model: TrainedModel, lists: bool = True) -> int:
        """Queue ``model``'s lists (unless ``lists`` is false) and its profile part for the
        pipeline thread; return how many lists."""
        queued = []
        for kind in PUBLISHED_KINDS if lists else ():
            for anchor, versions in model.lists.get(kind, {}).items():
                if isinstance(anchor, str) and versions:
                    queued.append((kind, anchor, versions[-1][1]))
        profile = model if self.profile_stages else None
        with self._lock:
            self._pending.append((model.version, queued, profile))
        self.live.engine.call_soon(self._apply_on_engine)
        return len(queued)

    def _apply_on_engine(self, _: Any) -> None:
        self.apply_pending()

    def apply_pending(self) -> int:
        """Apply the queued lists (on the pipeline thread); return how many."""
        with self._lock:
            pending, self._pending = self._pending, []
        engine = self.live.engine
        valid_from = max(engine.watermark_ms + 1, 0)
        applied = 0
        for version, lists, profile in pending:
            for kind, anchor, value in lists:
                items, scores = value[0], value[1]
                sources = value[2] if len(value) > 2 else ()
                update = ModelList(kind, anchor, valid_from, items, scores, sources)
                self._broadcast(self.stages, update, valid_from)
                applied += 1
            if lists:
                self.version = version
            if profile is not None:
                self._broadcast(self.profile_stages, profile_model(profile, valid_from),
                                valid_from)
                self.profile_models += len(self.profile_stages)
                self.profile_version = version
        self.published += applied
        return applied

    def _broadcast(self, stages: list[tuple[int, Any]], update: Any, valid_from: int) -> None:
        engine = self.live.engine
        for index, operator in stages:
            ctx = engine.contexts[index]
            # Leave the stage's context as it was (nothing else reads it now).
            saved = ctx.key, ctx.timestamp_ms, ctx.watermark_ms
            ctx.key, ctx.timestamp_ms, ctx.watermark_ms = "", valid_from, valid_from - 1
            try:
                operator.process_broadcast(update, ctx)
            finally:
                ctx.key, ctx.timestamp_ms, ctx.watermark_ms = saved
