"""The default topology: which operators run, keyed how, and which streams are written.

Examples
--------
>>> default_topology().stage_names()
('baskets',)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.operators.baskets import BasketConfig, BasketTracker
from shopstream.topology import Stage, Topology

__all__ = ["PipelineConfig", "default_topology"]


def by_session(event: ShopperEvent) -> str:
    """Key of session-scoped operators."""
    return event.session_id


@dataclass(frozen=True)
class PipelineConfig:
    """Configuration of every operator in the default pipeline."""

    baskets: BasketConfig = field(default_factory=BasketConfig)


def default_topology(config: PipelineConfig | None = None) -> Topology:
    """Build the default pipeline's topology from ``config``."""
    cfg = config or PipelineConfig()
    stages = (
        Stage(BasketTracker(cfg.baskets), inputs=(streams.EVENTS,), key_by=by_session),
    )
    return Topology(stages, sink_streams=(streams.BASKET_COMPLETIONS, streams.ABANDONED_BASKETS))
