"""The operator contract on Flink keyed state: descriptors, views and the context.

Operators declare :mod:`shopstream.state` descriptors; here each becomes a Flink state
descriptor of the same name holding pickled values. ``MapState`` keys go through a string
codec (:func:`encode_key` / :func:`decode_key`) because PyFlink's thread mode mishandles
pickled map keys (``get`` returns ``None``, ``put`` duplicates).

Examples
--------
>>> decode_key(encode_key(120_000)), decode_key(encode_key("p-1")), decode_key(encode_key(None))
(120000, 'p-1', None)
>>> encode_key(5), encode_key("a")
('i5', 's a')
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from shopstream.errors import ConfigError
from shopstream.state.descriptors import (
    ListStateDescriptor,
    MapStateDescriptor,
    StateDescriptor,
    ValueStateDescriptor,
)

__all__ = ["FlinkStageContext", "decode_key", "encode_key", "flink_state"]


def encode_key(key: Any) -> str:
    """A map key as a string that sorts and compares like nothing else: a tag then text."""
    if isinstance(key, str):
        return "s " + key
    if isinstance(key, int) and not isinstance(key, bool):
        return f"i{key}"
    return "p" + base64.b64encode(pickle.dumps(key, protocol=5)).decode("ascii")


def decode_key(text: str) -> Any:
    """The key :func:`encode_key` encoded."""
    tag = text[0]
    if tag == "s":
        return text[2:]
    if tag == "i":
        return int(text[1:])
    return pickle.loads(base64.b64decode(text[1:]))


class MapStateView:
    """:class:`shopstream.state.MapState` over a Flink ``MapState`` with string keys."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def get(self, key: Any) -> Any:
        return self._state.get(encode_key(key))

    def put(self, key: Any, value: Any) -> None:
        self._state.put(encode_key(key), value)

    def remove(self, key: Any) -> None:
        self._state.remove(encode_key(key))

    def contains(self, key: Any) -> bool:
        return bool(self._state.contains(encode_key(key)))

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter([(decode_key(k), v) for k, v in self._state.items()])

    def keys(self) -> Iterator[Any]:
        return iter([decode_key(k) for k in self._state.keys()])  # noqa: SIM118 - Flink state

    def values(self) -> Iterator[Any]:
        return iter(list(self._state.values()))

    def is_empty(self) -> bool:
        return bool(self._state.is_empty())

    def clear(self) -> None:
        self._state.clear()


class ListStateView:
    """:class:`shopstream.state.ListState` over a Flink ``ListState`` (``get`` is a list)."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def get(self) -> list[Any]:
        return list(self._state.get() or ())

    def add(self, value: Any) -> None:
        self._state.add(value)

    def update(self, values: Iterable[Any]) -> None:
        self._state.update(list(values))

    def clear(self) -> None:
        self._state.clear()


def flink_state(runtime_context: Any, descriptor: StateDescriptor, operator: str) -> Any:
    """The view an operator gets for ``descriptor``, backed by Flink keyed state named
    ``<operator>.<state>``."""
    from pyflink.common import Types
    from pyflink.datastream.state import (
        ListStateDescriptor as FlinkList,
    )
    from pyflink.datastream.state import (
        MapStateDescriptor as FlinkMap,
    )
    from pyflink.datastream.state import (
        ValueStateDescriptor as FlinkValue,
    )

    pickled = Types.PICKLED_BYTE_ARRAY()
    # Operators fused in one Flink function may use the same state names.
    name = f"{operator}.{descriptor.name}"
    if isinstance(descriptor, ValueStateDescriptor):
        # Flink's ValueState already has the contract's value/update/clear.
        return runtime_context.get_state(FlinkValue(name, pickled))
    if isinstance(descriptor, MapStateDescriptor):
        return MapStateView(runtime_context.get_map_state(
            FlinkMap(name, Types.STRING(), pickled)))
    if isinstance(descriptor, ListStateDescriptor):
        return ListStateView(runtime_context.get_list_state(FlinkList(name, pickled)))
    msg = (f"operator {operator!r}: state {descriptor.name!r} is a "
           f"{type(descriptor).__name__}, which the Flink runner cannot map")
    raise ConfigError(msg)


class FlinkStageContext:
    """The :class:`shopstream.state.Context` of one stage inside a Flink function.

    The function sets ``key``, ``timestamp_ms`` and ``watermark_ms`` before each call, as
    the embedded runner does; timers go to ``register`` / ``delete`` (the function's own
    per-key timer book, see :mod:`shopstream.runners.flink.functions`).
    """

    __slots__ = ("_create", "_delete", "_register", "_views", "key", "timestamp_ms",
                 "watermark_ms")

    def __init__(self, create: Callable[[StateDescriptor], Any],
                 register: Callable[[int], None], delete: Callable[[int], None]) -> None:
        self._views: dict[StateDescriptor, Any] = {}
        self._create = create
        self._register = register
        self._delete = delete
        self.key = ""
        self.timestamp_ms = 0
        self.watermark_ms = -(2**63)

    def state(self, descriptor: StateDescriptor) -> Any:
        view = self._views.get(descriptor)
        if view is None:
            view = self._views[descriptor] = self._create(descriptor)
        return view

    def register_event_timer(self, timestamp_ms: int) -> None:
        self._register(timestamp_ms)

    def delete_event_timer(self, timestamp_ms: int) -> None:
        self._delete(timestamp_ms)
