"""What the Flink runner can run, checked without PyFlink (so the CLI can say it at once).

Examples
--------
>>> from shopstream.pipeline import PipelineConfig, default_topology
>>> check_supported(default_topology(PipelineConfig(recommendations=None)))
>>> check_supported(default_topology())
Traceback (most recent call last):
...
shopstream.runners.flink.errors.FlinkUnsupportedError: the Flink runner does not run stages \
with broadcast inputs yet: stage 'recommendations' reads recommendation-models, \
rules-by-antecedent, trending-products, catalog-changes (use --no-recommendations)
"""

from __future__ import annotations

from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.topology import Topology

__all__ = ["check_supported"]


def check_supported(topology: Topology) -> None:
    """Raise :class:`FlinkUnsupportedError` (one line) for what the Flink runner cannot run."""
    for stage in topology.stages:
        if stage.broadcast_inputs:
            msg = (f"the Flink runner does not run stages with broadcast inputs yet: stage "
                   f"{stage.name!r} reads {', '.join(stage.broadcast_inputs)} "
                   "(use --no-recommendations)")
            raise FlinkUnsupportedError(msg)
