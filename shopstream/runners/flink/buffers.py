"""Where a keyed stage's elements wait for the watermark on Flink: :class:`FlinkBuffer`
in keyed ``MapState`` (what a checkpoint snapshots), or :class:`PythonBuffer` in Python
for a job nobody snapshots. Both hold ``(time, record)`` values per key and time, hand a
time's elements back in arrival order, and are read by
:class:`~shopstream.runners.flink.stage.StageLogic`.

Examples
--------
>>> buffer = PythonBuffer(lambda record: record[0])
>>> buffer.hold((3, "k1"))
'k'
>>> buffer.take("k", 3)
[(3, 'k1')]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FlinkBuffer", "PythonBuffer"]


class FlinkBuffer:
    """Each key's elements waiting for the watermark, in a Flink ``MapState`` from element
    time (as a string: thread mode mishandles pickled map keys) to the elements at that
    time, in arrival order: what a checkpoint snapshots. The key is Flink's current one."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def hold(self, value: tuple[Any, ...]) -> None:
        """Add ``(time, record)`` to the current key's elements at that time."""
        at = str(value[0])
        held = self._state.get(at)
        self._state.put(at, [value] if held is None else [*held, value])

    def take(self, key: str, at: int) -> list[tuple[Any, ...]]:
        """Remove and return the current key's elements at ``at`` (``key``: Flink's)."""
        stamp = str(at)
        held = self._state.get(stamp)
        if not held:
            return []
        self._state.remove(stamp)
        return held  # type: ignore[no-any-return]


class PythonBuffer:
    """:class:`FlinkBuffer` kept in Python, for a job nobody snapshots: an element's key is
    ``key_of(record)``, the function its producers partition by (so Flink's key for it).
    Bound: the elements within the watermark bound, as in Flink state.

    Examples
    --------
    >>> buffer = PythonBuffer(lambda record: record[0])
    >>> buffer.hold((5, "a1")); buffer.hold((5, "a2")); buffer.hold((7, "b1"))
    'a'
    'a'
    'b'
    >>> buffer.take("a", 5), buffer.take("a", 5), buffer.take("b", 7)
    ([(5, 'a1'), (5, 'a2')], [], [(7, 'b1')])

    ``take_until`` takes every time up to a watermark, in time order:

    >>> for value in ((9, "a3"), (6, "a2"), (8, "a1")):
    ...     _ = buffer.hold(value)
    >>> buffer.take_until("a", 8), buffer.earliest("a"), buffer.earliest("b")
    ([(6, [(6, 'a2')]), (8, [(8, 'a1')])], 9, None)
    """

    __slots__ = ("_key_of", "_times")

    def __init__(self, key_of: Callable[[Any], str]) -> None:
        self._key_of = key_of
        self._times: dict[str, dict[int, list[tuple[Any, ...]]]] = {}

    def hold(self, value: tuple[Any, ...]) -> str:
        """Add ``(time, record)`` to its key's elements at that time; return the key."""
        key = self._key_of(value[1])
        times = self._times.get(key)
        if times is None:
            self._times[key] = {value[0]: [value]}
        else:
            times.setdefault(value[0], []).append(value)
        return key

    def take(self, key: str, at: int) -> list[tuple[Any, ...]]:
        """Remove and return ``key``'s elements at ``at``."""
        times = self._times.get(key)
        if times is None:
            return []
        due = times.pop(at, [])
        if not times:
            del self._times[key]
        return due

    def take_until(self, key: str, mark: int) -> list[tuple[int, list[tuple[Any, ...]]]]:
        """Remove and return ``key``'s elements at or before ``mark``, as ``(time,
        elements)`` in time order. Cost: the key's held times (one pass) plus the sort of
        those due."""
        times = self._times.get(key)
        if times is None:
            return []
        due = sorted((at, times[at]) for at in [at for at in times if at <= mark])
        for at, _ in due:
            del times[at]
        if not times:
            del self._times[key]
        return due

    def earliest(self, key: str) -> int | None:
        """The earliest time ``key`` holds elements at, or ``None``."""
        times = self._times.get(key)
        return min(times) if times else None
