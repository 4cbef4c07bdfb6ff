"""Resume an embedded checkpoint of one-phase trending in a two-phase pipeline.

A checkpoint written while trending ran as one stage on the global key (stage
``trending``: :class:`~shopstream.operators.trending.TrendingOperator`, no stage ``uid``)
holds one :class:`~shopstream.recommend.trending.TrendTracker` and its timers. A pipeline
with trending in two phases (:mod:`shopstream.operators.trending_partials`) keeps the uid
``trending`` for the merge and adds ``trending-partials``, keyed by product group:
:func:`adopt_one_phase_trending` splits the old tracker by key group into the partial
stage's state and moves each old timer to every group holding products, so the run goes on
as if it had been two-phase all along (same outputs, byte for byte). The conversion knows
this runner's snapshot layout (``stages``, ``timers``), so it lives here, not in the
operators. Engine.restore calls it; the runner accepts such a checkpoint when
:func:`adopts_one_phase_trending` says a stage it lacks takes the old state over.

Examples
--------
>>> from shopstream.pipeline import PipelineConfig, default_topology
>>> two = default_topology(PipelineConfig(two_phase_trending=True))
>>> [s.uid for s in two.stages if adopts_one_phase_trending(s)]
['trending-partials']
>>> snap = {"stages": {"trending": {"state": {}, "broadcast": None}},
...         "timers": {"heap": [], "seq": 0}}
>>> adopt_one_phase_trending(snap, two.stages) is snap  # nothing to take over
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopstream.operators.trending_partials import (
    TrendAction,
    TrendingMergeOperator,
    TrendingPartialOperator,
)
from shopstream.recommend.trending import TrendingConfig, TrendTracker
from shopstream.topology import Stage

__all__ = ["adopt_one_phase_trending", "adopts_one_phase_trending"]

#: The state name of the tracker, in the one-phase stage and in each partial group.
_TREND = TrendingPartialOperator.state_descriptors[0].name


def adopts_one_phase_trending(stage: Stage) -> bool:
    """Whether ``stage``, missing from a checkpoint, takes over one-phase trending's
    state on restore (the partial stage of two-phase trending)."""
    return isinstance(stage.operator, TrendingPartialOperator)


def adopt_one_phase_trending(snapshot: dict[str, Any],
                             stages: tuple[Stage, ...]) -> dict[str, Any]:
    """The embedded engine snapshot ``snapshot`` with one-phase trending's tracker and
    timers moved to the two-phase partial stage of ``stages`` (see the module); the
    snapshot itself, unchanged, when it holds no one-phase trending state or the pipeline
    has no partial stage. Never changes ``snapshot``. Cost: one pass over the counters
    and the timers."""
    for stage in stages:
        if isinstance(stage.operator, TrendingPartialOperator):
            snapshot = _adopt(snapshot, stage.uid, stage.key_by, stage.operator.config)
    return snapshot


def _adopt(snapshot: dict[str, Any], uid: str, key_by: Callable[[Any], str],
           config: TrendingConfig) -> dict[str, Any]:
    stages = snapshot["stages"]
    merge = stages.get(TrendingMergeOperator.name)
    if merge is None or uid in stages or not merge["state"].get(_TREND):
        return snapshot
    state = dict(merge["state"])
    old = state.pop(_TREND)
    trackers: dict[str, TrendTracker] = {}
    for tracker in old.values():  # one: the global key's
        for group, part in tracker.split(
                lambda product: key_by(TrendAction(product, 0.0))).items():
            trackers[group] = part
    if not trackers:  # nothing counted: an empty group still emits the old times
        trackers[key_by(TrendAction("", 0.0))] = TrendTracker(config)
    order = list(stages)
    was, now = order.index(TrendingMergeOperator.name), len(order)
    stages = {**stages, TrendingMergeOperator.name: {**merge, "state": state},
              uid: {"state": {_TREND: trackers}, "broadcast": None}}
    timers = snapshot["timers"]
    seq = int(timers["seq"])
    heap = []
    for ts, number, index, key in timers["heap"]:
        if index != was:
            heap.append((ts, number, index, key))
            continue
        for group in sorted(trackers):
            seq += 1
            heap.append((ts, seq, now, group))
    return {**snapshot, "stages": stages,
            "timers": {**timers, "heap": sorted(heap), "seq": seq}}
