"""The operator contract on Flink keyed state: descriptors, views and the context.

Operators declare :mod:`shopstream.state` descriptors; here each becomes a Flink state
descriptor of the same name holding pickled values. ``MapState`` keys go through a string
codec (:func:`encode_key` / :func:`decode_key`) because PyFlink's thread mode mishandles
pickled map keys (``get`` returns ``None``, ``put`` duplicates).

``ValueState`` goes through a :class:`ValueCache` (see there): a read of a key's value
that this function wrote last returns the object without unpickling it, and the writes
of one Flink call reach Flink once, at the end of the call, whatever the number of
``update`` calls. Global operators keep a whole model in one value (the rules window,
the trending sketch, a pair learner), so each unpickle saved is as large as the model.

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

__all__ = ["CACHED_KEYS", "FlinkStageContext", "KeyCursor", "ValueCache", "decode_key",
           "encode_key", "flink_state"]

#: Keys whose value each cached ``ValueState`` keeps unpickled (the oldest read goes first).
CACHED_KEYS = 4_096

_MISSING = object()


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


class KeyCursor:
    """The Flink key of the call under way, set by the function before it runs operators;
    the :class:`ValueCache` views of that function read it, and register their pending
    writes in ``dirty`` for the function to :meth:`flush` at the end of the call.

    ``held`` (default 0): how many keys' values each view may keep *only* in Python,
    never written to Flink. Only for a job nobody snapshots (no checkpoints, no savepoint
    possible: a local mini-cluster), where nothing but this function ever reads its keyed
    state; the hottest keys (a global stage's one key) then cost no pickling at all.
    """

    __slots__ = ("dirty", "held", "key")

    def __init__(self, held: int = 0) -> None:
        self.key: Any = None
        self.held = held
        self.dirty: list[ValueCache] = []

    def flush(self) -> None:
        """Write every value updated during this call to Flink (the current key's), or
        keep it held (see ``held``)."""
        if self.dirty:
            for view in self.dirty:
                view.write_back()
            self.dirty = []


class ValueCache:
    """:class:`shopstream.state.ValueState` over a Flink ``ValueState``, with the last
    value of up to ``capacity`` keys kept unpickled.

    Only this function writes its keyed state, so what it wrote last *is* the state: a read
    of a cached key costs no Flink call and no unpickling. ``update`` stores the object
    and marks it dirty; the function writes it to Flink (pickled once) when its Flink call
    ends (:meth:`KeyCursor.flush`), before Flink can take a checkpoint, which happens only
    between calls; or, for the first ``cursor.held`` keys updated in a job nobody
    snapshots, keeps it unwritten for good. ``clear`` goes to Flink at once. A restored
    job starts with an empty cache, reading Flink. Bound: ``capacity`` clean objects (the
    first-cached key leaves first) plus ``cursor.held`` unwritten ones; an operator that
    mutates a value without ``update`` is seen mutated while it stays cached, as on the
    embedded runner, and as Flink last stored it afterwards.

    Examples
    --------
    >>> class Backing:  # a stand-in for Flink's ValueState of the current key
    ...     def __init__(self): self.data, self.key, self.reads = {}, None, 0
    ...     def value(self): self.reads += 1; return self.data.get(self.key)
    ...     def update(self, v): self.data[self.key] = v
    ...     def clear(self): self.data.pop(self.key, None)
    >>> flink, cursor = Backing(), KeyCursor()
    >>> view = ValueCache(flink, cursor, capacity=2)
    >>> cursor.key = flink.key = "a"
    >>> view.update([1]); view.update([1, 2]); flink.data
    {}
    >>> cursor.flush(); flink.data, view.value(), flink.reads
    ({'a': [1, 2]}, [1, 2], 0)
    >>> cursor.key = flink.key = "b"
    >>> view.value() is None, flink.reads
    (True, 1)

    With ``held`` keys, the first key updated stays in Python only:

    >>> flink, cursor = Backing(), KeyCursor(held=1)
    >>> view = ValueCache(flink, cursor, capacity=2)
    >>> for key in "ab":
    ...     cursor.key = flink.key = key
    ...     view.update(key.upper()); cursor.flush()
    >>> flink.data, [(cursor.__setattr__("key", k), view.value())[1] for k in "ab"]
    ({'b': 'B'}, ['A', 'B'])
    """

    __slots__ = ("_capacity", "_cursor", "_dirty", "_held", "_known", "_state")

    def __init__(self, state: Any, cursor: KeyCursor, capacity: int = CACHED_KEYS) -> None:
        self._state = state
        self._cursor = cursor
        self._capacity = capacity
        self._known: dict[Any, Any] = {}
        self._held: dict[Any, Any] = {}
        self._dirty = False

    def value(self) -> Any:
        key = self._cursor.key
        value = self._known.get(key, _MISSING)
        if value is _MISSING:
            value = self._held.get(key, _MISSING)
            if value is _MISSING:
                value = self._state.value()
                self._remember(key, value)
        return value

    def update(self, value: Any) -> None:
        key = self._cursor.key
        if key in self._held:
            self._held[key] = value
        elif key in self._known:
            self._known[key] = value
        else:
            self._remember(key, value)
        if not self._dirty:
            self._dirty = True
            self._cursor.dirty.append(self)

    def clear(self) -> None:
        self._state.clear()
        key = self._cursor.key
        self._held.pop(key, None)
        if key in self._known:
            self._known[key] = None
        else:
            self._remember(key, None)
        if self._dirty:
            self._dirty = False
            self._cursor.dirty.remove(self)

    def write_back(self) -> None:
        """Store the current key's value in Flink, or hold it (called by
        :meth:`KeyCursor.flush`)."""
        self._dirty = False
        key = self._cursor.key
        held = self._held
        if key in held:
            return
        value = self._known.get(key)
        if value is None:
            self._state.clear()
        elif len(held) < self._cursor.held:
            held[key] = self._known.pop(key)
        else:
            self._state.update(value)

    def _remember(self, key: Any, value: Any) -> None:
        known = self._known
        if len(known) >= self._capacity:
            # The current key is never the one to go (a dirty value lives only here).
            oldest = next(iter(known))
            if oldest != key:
                del known[oldest]
        known[key] = value


def flink_state(runtime_context: Any, descriptor: StateDescriptor, operator: str,
                cursor: KeyCursor | None = None) -> Any:
    """The view an operator gets for ``descriptor``, backed by Flink keyed state named
    ``<operator>.<state>``; value states are cached (:class:`ValueCache`) when the
    function gives its ``cursor``."""
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
        state = runtime_context.get_state(FlinkValue(name, pickled))
        return state if cursor is None else ValueCache(state, cursor)
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
