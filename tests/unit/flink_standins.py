"""In-memory stand-ins for what PyFlink hands a keyed (broadcast) process function, so the
Flink stage functions can be driven without a JVM (``tests/unit/test_flink_*.py``).

Keyed state holds pickled bytes per state name and key, as PyFlink's
``PICKLED_BYTE_ARRAY`` state does, and counts what is pickled and unpickled; the timer
service is a heap of ``(time, key)`` fired by the test; the broadcast state is one dict.
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Iterable
from typing import Any


class Counts:
    """What the stand-in state pickled and unpickled (``by_state``: pickled, per name)."""

    def __init__(self) -> None:
        self.pickled = 0
        self.unpickled = 0
        self.by_state: dict[str, int] = {}

    def dump(self, value: Any, name: str) -> bytes:
        self.pickled += 1
        self.by_state[name] = self.by_state.get(name, 0) + 1
        return pickle.dumps(value)

    def load(self, raw: bytes | None) -> Any:
        if raw is None:
            return None
        self.unpickled += 1
        return pickle.loads(raw)


class Value:
    """A ``ValueState`` of the runtime's current key."""

    def __init__(self, store: dict[Any, Any], runtime: Runtime, name: str) -> None:
        self.store, self.runtime, self.name = store, runtime, name

    def value(self) -> Any:
        return self.runtime.counts.load(self.store.get(self.runtime.key))

    def update(self, value: Any) -> None:
        self.store[self.runtime.key] = self.runtime.counts.dump(value, self.name)

    def clear(self) -> None:
        self.store.pop(self.runtime.key, None)


class ListState(Value):
    """A list state pickling each element on its own, as PyFlink does."""

    def get(self) -> list[Any]:
        return [self.runtime.counts.load(raw) for raw in self.store.get(self.runtime.key, [])]

    def add(self, value: Any) -> None:
        raw = self.runtime.counts.dump(value, self.name)
        self.store.setdefault(self.runtime.key, []).append(raw)

    def update(self, values: Any) -> None:
        self.store[self.runtime.key] = [self.runtime.counts.dump(v, self.name) for v in values]


class MapState(Value):
    """A map state (values pickled one by one)."""

    def get(self, key: Any) -> Any:
        return self.runtime.counts.load(self.store.get(self.runtime.key, {}).get(key))

    def put(self, key: Any, value: Any) -> None:
        raw = self.runtime.counts.dump(value, self.name)
        self.store.setdefault(self.runtime.key, {})[key] = raw

    def remove(self, key: Any) -> None:
        del self.store[self.runtime.key][key]


class BroadcastState:
    """Flink's broadcast state of one descriptor (a dict the test can read)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def remove(self, key: str) -> None:
        del self.data[key]

    def items(self) -> Iterable[tuple[str, Any]]:
        return list(self.data.items())


class Runtime:
    """The runtime context, the timer service and the contexts Flink passes, in one:
    keyed state per name and key (pickled), the event-time timers and the broadcast
    state; ``key`` and ``watermark`` are set by the test."""

    def __init__(self) -> None:
        self.key = ""
        self.counts = Counts()
        self.stores: dict[str, dict[Any, Any]] = {}
        self.timers: list[tuple[int, str]] = []
        self.broadcast: dict[str, Any] = {}
        self.watermark = -(2**63)
        #: Calls of register_event_time_timer, and on_timer calls the test made.
        self.registered = 0
        self.wakes = 0

    def get_state(self, descriptor: Any) -> Value:
        return Value(self.stores.setdefault(descriptor.name, {}), self, descriptor.name)

    def get_list_state(self, descriptor: Any) -> ListState:
        return ListState(self.stores.setdefault(descriptor.name, {}), self, descriptor.name)

    def get_map_state(self, descriptor: Any) -> MapState:
        return MapState(self.stores.setdefault(descriptor.name, {}), self, descriptor.name)

    def get_broadcast_state(self, descriptor: Any) -> BroadcastState:
        return BroadcastState(self.broadcast)

    def timer_service(self) -> Runtime:
        return self

    def register_event_time_timer(self, at: int) -> None:
        self.registered += 1
        if (at, self.key) not in self.timers:
            heapq.heappush(self.timers, (at, self.key))

    def current_watermark(self) -> int:
        return self.watermark

    def get_current_key(self) -> str:
        return self.key
