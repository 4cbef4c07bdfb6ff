"""What an operator sees of its state and of the runner: the engine-neutral contract.

The shapes follow PyFlink's ``KeyedProcessFunction`` so that a Flink adapter is a thin
translation: ``ValueState.value/update/clear``, ``MapState.get/put/remove/...``,
``ListState.get/add/update/clear``, and a context that exposes the current key, the
element's timestamp, the watermark and event-time timers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar, overload

from shopstream.state.descriptors import (
    ListStateDescriptor,
    MapStateDescriptor,
    ValueStateDescriptor,
)

__all__ = ["Context", "ListState", "MapState", "ValueState"]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class ValueState(Protocol[T]):
    """One value for the current key. Call :meth:`update` after changing a mutable value."""

    def value(self) -> T | None: ...
    def update(self, value: T) -> None: ...
    def clear(self) -> None: ...


class MapState(Protocol[K, V]):
    """A map for the current key."""

    def get(self, key: K) -> V | None: ...
    def put(self, key: K, value: V) -> None: ...
    def remove(self, key: K) -> None: ...
    def contains(self, key: K) -> bool: ...
    def items(self) -> Iterator[tuple[K, V]]: ...
    def keys(self) -> Iterator[K]: ...
    def values(self) -> Iterator[V]: ...
    def is_empty(self) -> bool: ...
    def clear(self) -> None: ...


class ListState(Protocol[T]):
    """A list for the current key."""

    def get(self) -> list[T]: ...
    def add(self, value: T) -> None: ...
    def update(self, values: Iterable[T]) -> None: ...
    def clear(self) -> None: ...


class Context(Protocol):
    """The runner as an operator sees it while handling one element, timer or broadcast.

    ``key`` is the current key, ``timestamp_ms`` the event time of the element or the
    firing time of the timer, ``watermark_ms`` the time up to which everything has been
    handled: ``t - 1`` for an element at ``t`` of a stage that needs event-time order,
    ``t`` for a timer at ``t``, the runner's watermark for a stage that takes arrival
    order.

    In :meth:`~shopstream.state.KeyedOperator.process_broadcast` only ``timestamp_ms``
    and ``watermark_ms`` may be used: ``key`` is empty and there is no keyed state and
    no timer (Flink forbids both there).
    """

    @property
    def key(self) -> str: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def watermark_ms(self) -> int: ...

    @overload
    def state(self, descriptor: ValueStateDescriptor[T]) -> ValueState[T]: ...
    @overload
    def state(self, descriptor: MapStateDescriptor[K, V]) -> MapState[K, V]: ...
    @overload
    def state(self, descriptor: ListStateDescriptor[T]) -> ListState[T]: ...

    def register_event_timer(self, timestamp_ms: int) -> None:
        """Call :meth:`KeyedOperator.on_timer` for this key once the watermark passes it."""
        ...

    def delete_event_timer(self, timestamp_ms: int) -> None:
        """Forget a timer registered for this key at exactly ``timestamp_ms``."""
        ...
