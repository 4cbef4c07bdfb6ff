"""The :class:`~shopstream.state.Context` an operator sees inside the embedded runner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopstream.runners.embedded.state_backend import HeapStateBackend
from shopstream.runners.embedded.timers import TimerQueue
from shopstream.state.descriptors import StateDescriptor

__all__ = ["StageContext"]


class StageContext:
    """One mutable context per stage; the engine sets key and times before each call."""

    __slots__ = ("_index", "_register", "_timers", "backend", "key", "state", "timestamp_ms",
                 "watermark_ms")

    def __init__(self, index: int, operator_name: str, timers: TimerQueue) -> None:
        self._index = index
        self._timers = timers
        self._register = timers.register
        self.key = ""
        self.timestamp_ms = 0
        self.watermark_ms = -(2**63)
        self.backend = HeapStateBackend(operator_name, self)
        # Bound once: ``ctx.state(descriptor)`` is on every operator's hot path.
        self.state: Callable[[StateDescriptor], Any] = self.backend.view

    def register_event_timer(self, timestamp_ms: int) -> None:
        self._register(self._index, self.key, timestamp_ms)

    def delete_event_timer(self, timestamp_ms: int) -> None:
        self._timers.delete(self._index, self.key, timestamp_ms)
