"""How operators are wired: which stream feeds which operator, keyed how.

A :class:`Topology` is plain data that every runner reads the same way; ``pipeline.py``
builds the default one.

Examples
--------
>>> from shopstream.operators.baskets import BasketTracker
>>> stage = Stage(BasketTracker(), inputs=("events",), key_by=lambda e: e.session_id)
>>> Topology((stage,), sink_streams=("basket-completions",)).stage_names()
('baskets',)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopstream.errors import ConfigError
from shopstream.state.operator import KeyedOperator

__all__ = ["Stage", "Topology"]


@dataclass(frozen=True)
class Stage:
    """One operator and where its input comes from.

    ``inputs`` are streams whose records reach :meth:`KeyedOperator.process_element`,
    partitioned by ``key_by``; ``broadcast_inputs`` are streams whose records reach
    :meth:`KeyedOperator.process_broadcast` unkeyed. A global operator uses a constant key.
    """

    operator: KeyedOperator[Any]
    inputs: tuple[str, ...]
    key_by: Callable[[Any], str]
    broadcast_inputs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.operator.name


@dataclass(frozen=True)
class Topology:
    """Stages in the order they were declared, and the streams written to sinks."""

    stages: tuple[Stage, ...]
    sink_streams: tuple[str, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"topology: operator names must be unique, repeated: {dupes}"
            raise ConfigError(msg)

    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)
