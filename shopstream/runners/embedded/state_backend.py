"""Keyed state held in memory: plain dictionaries per descriptor, snapshot with the checkpoint.

The views read the current key from the context at call time, so an operator may fetch a
view once and keep it, exactly as with Flink's runtime context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from shopstream.state.descriptors import (
    ListStateDescriptor,
    MapStateDescriptor,
    StateDescriptor,
    ValueStateDescriptor,
)
from shopstream.state.errors import StateError

__all__ = ["HeapStateBackend"]


class _HasKey(Protocol):
    key: str


class _Value:
    __slots__ = ("_ctx", "_data")

    def __init__(self, data: dict[str, Any], ctx: _HasKey) -> None:
        self._data = data
        self._ctx = ctx

    def value(self) -> Any:
        return self._data.get(self._ctx.key)

    def update(self, value: Any) -> None:
        self._data[self._ctx.key] = value

    def clear(self) -> None:
        self._data.pop(self._ctx.key, None)


class _Map:
    __slots__ = ("_ctx", "_data")

    def __init__(self, data: dict[str, dict[Any, Any]], ctx: _HasKey) -> None:
        self._data = data
        self._ctx = ctx

    def _mine(self) -> dict[Any, Any]:
        return self._data.get(self._ctx.key) or {}

    def get(self, key: Any) -> Any:
        return self._mine().get(key)

    def put(self, key: Any, value: Any) -> None:
        mine = self._data.get(self._ctx.key)
        if mine is None:
            self._data[self._ctx.key] = mine = {}
        mine[key] = value

    def remove(self, key: Any) -> None:
        mine = self._data.get(self._ctx.key)
        if mine is not None:
            mine.pop(key, None)
            if not mine:
                del self._data[self._ctx.key]

    def contains(self, key: Any) -> bool:
        return key in self._mine()

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(list(self._mine().items()))

    def keys(self) -> Iterator[Any]:
        return iter(list(self._mine()))

    def values(self) -> Iterator[Any]:
        return iter(list(self._mine().values()))

    def is_empty(self) -> bool:
        return not self._mine()

    def clear(self) -> None:
        self._data.pop(self._ctx.key, None)


class _List:
    __slots__ = ("_ctx", "_data")

    def __init__(self, data: dict[str, list[Any]], ctx: _HasKey) -> None:
        self._data = data
        self._ctx = ctx

    def get(self) -> list[Any]:
        return list(self._data.get(self._ctx.key, ()))

    def add(self, value: Any) -> None:
        mine = self._data.get(self._ctx.key)
        if mine is None:
            self._data[self._ctx.key] = [value]
        else:
            mine.append(value)

    def update(self, values: Iterable[Any]) -> None:
        items = list(values)
        if items:
            self._data[self._ctx.key] = items
        else:
            self._data.pop(self._ctx.key, None)

    def clear(self) -> None:
        self._data.pop(self._ctx.key, None)


class _Views(dict[StateDescriptor, Any]):
    """Views by descriptor (hashed by identity), made on first use by ``create``."""

    __slots__ = ("_create",)

    def __init__(self, create: Callable[[StateDescriptor], Any]) -> None:
        super().__init__()
        self._create = create

    def __missing__(self, descriptor: StateDescriptor) -> Any:
        return self._create(descriptor)


class HeapStateBackend:
    """All keyed state of one operator: ``{descriptor name: {key: value}}``.

    Examples
    --------
    >>> from shopstream.state import ValueStateDescriptor
    >>> class Ctx:
    ...     key = "a"
    >>> ctx = Ctx()
    >>> backend = HeapStateBackend("demo", ctx)
    >>> count = backend.view(ValueStateDescriptor[int]("count"))
    >>> count.update(3)
    >>> ctx.key = "b"
    >>> count.value() is None
    True
    >>> backend.snapshot()
    {'count': {'a': 3}}
    """

    def __init__(self, operator_name: str, ctx: _HasKey) -> None:
        self._operator = operator_name
        self._ctx = ctx
        self._data: dict[str, dict[str, Any]] = {}
        self._kinds: dict[str, type[StateDescriptor]] = {}
        self._views = _Views(self._create)
        #: ``view`` as a C-level dictionary read once a descriptor's view exists (the
        #: first read of a descriptor creates it): ``ctx.state(descriptor)`` runs several
        #: times per event, and a Python call costs more than the read.
        self.view: Callable[[StateDescriptor], Any] = self._views.__getitem__

    def _create(self, descriptor: StateDescriptor) -> Any:
        """Make the view of ``descriptor`` (the first time it is asked for)."""
        kind = type(descriptor)
        known = self._kinds.setdefault(descriptor.name, kind)
        if known is not kind:
            msg = (f"operator {self._operator!r}: state {descriptor.name!r} is declared both as "
                   f"{known.__name__} and {kind.__name__}")
            raise StateError(msg)
        data = self._data.setdefault(descriptor.name, {})
        view: Any
        if isinstance(descriptor, ValueStateDescriptor):
            view = _Value(data, self._ctx)
        elif isinstance(descriptor, MapStateDescriptor):
            view = _Map(data, self._ctx)
        elif isinstance(descriptor, ListStateDescriptor):
            view = _List(data, self._ctx)
        else:
            msg = f"operator {self._operator!r}: unknown state descriptor {descriptor!r}"
            raise StateError(msg)
        self._views[descriptor] = view
        return view

    def key_count(self) -> int:
        """How many keys hold any state (a gauge for metrics and tests)."""
        keys: set[str] = set()
        for per_key in self._data.values():
            keys.update(per_key)
        return len(keys)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The state as plain data, without empty descriptors."""
        return {name: per_key for name, per_key in self._data.items() if per_key}

    def restore(self, snapshot: dict[str, dict[str, Any]]) -> None:
        """Replace all state with ``snapshot``; views already handed out stay valid."""
        for name, per_key in self._data.items():
            per_key.clear()
            per_key.update(snapshot.get(name, {}))
        for name, per_key in snapshot.items():
            if name not in self._data:
                self._data[name] = dict(per_key)
