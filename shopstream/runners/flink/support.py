"""What the Flink runner can run, and how it groups stages, checked without PyFlink (so
the CLI can say it at once).

Examples
--------
>>> from shopstream.pipeline import PipelineConfig, default_topology
>>> topo = default_topology()
>>> check_supported(topo)
>>> [[topo.stages[i].name for i in group] for group in fuse(topo)]
[['baskets', 'abandonment'], ['fraud'], ['revenue-partials', 'top-products-partials'], \
['revenue'], ['top-products'], ['rules'], ['trending'], ['rec-learning'], ['rec-models'], \
['recommendations']]
>>> two_phase = default_topology(PipelineConfig(two_phase_trending=True))
>>> [[two_phase.stages[i].name for i in group] for group in fuse(two_phase)][:1]
[['baskets', 'abandonment', 'trending-activity']]
>>> from shopstream.topology import Stage, Topology
>>> learner = Stage(topo.stages[-1].operator, ("basket-completions",), lambda e: "all",
...                 broadcast_inputs=("events",))
>>> check_supported(Topology((*topo.stages[:-1], learner), ()))
Traceback (most recent call last):
...
shopstream.runners.flink.errors.FlinkUnsupportedError: the Flink runner does not broadcast \
events: stage 'recommendations' reads them as a broadcast input
"""

from __future__ import annotations

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.topology import Topology

__all__ = ["check_supported", "fuse", "main_group"]


def fuse(topology: Topology) -> list[tuple[int, ...]]:
    """Stages that read the same streams (keyed and broadcast) with the same key function,
    grouped in the order of each group's first stage: each group runs as one Flink
    operator, whose uid is its first stage's."""
    groups: dict[tuple[tuple[str, ...], int, tuple[str, ...]], list[int]] = {}
    for index, stage in enumerate(topology.stages):
        groups.setdefault((stage.inputs, id(stage.key_by), stage.broadcast_inputs),
                          []).append(index)
    return [tuple(group) for group in groups.values()]


def main_group(topology: Topology, groups: list[tuple[int, ...]]) -> int | None:
    """The first group reading ``events``: it takes the decoder's main output and forwards
    reference records (catalog changes) to their readers."""
    for g, group in enumerate(groups):
        if streams.EVENTS in topology.stages[group[0]].inputs:
            return g
    return None


def check_supported(topology: Topology) -> None:
    """Raise :class:`FlinkUnsupportedError` (one line) for what the Flink runner cannot run."""
    for stage in topology.stages:
        if streams.EVENTS in stage.broadcast_inputs:
            msg = ("the Flink runner does not broadcast events: stage "
                   f"{stage.name!r} reads them as a broadcast input")
            raise FlinkUnsupportedError(msg)
    try:
        topology.held_kinds("Flink")
    except ConfigError as exc:
        raise FlinkUnsupportedError(str(exc)) from None
    groups = fuse(topology)
    main = main_group(topology, groups)
    references = {p.stream for p in topology.watermark_policies}
    for g, group in enumerate(groups):
        head = topology.stages[group[0]]
        read = references.intersection((*head.inputs, *head.broadcast_inputs))
        if read and (main is None or g <= main):
            msg = (f"stage {head.name!r} reads {', '.join(sorted(read))}, which on Flink the "
                   "first stage reading events forwards: declare that stage before it")
            raise FlinkUnsupportedError(msg)
