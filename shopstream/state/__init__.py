"""The operator contract: keyed operators, state descriptors, context and timers."""

from __future__ import annotations

from shopstream.state.descriptors import (
    ListStateDescriptor,
    MapStateDescriptor,
    StateDescriptor,
    ValueStateDescriptor,
)
from shopstream.state.operator import KeyedOperator
from shopstream.state.protocols import Context, ListState, MapState, ValueState

__all__ = [
    "Context",
    "KeyedOperator",
    "ListState",
    "ListStateDescriptor",
    "MapState",
    "MapStateDescriptor",
    "StateDescriptor",
    "ValueState",
    "ValueStateDescriptor",
]
