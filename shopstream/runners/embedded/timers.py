"""Event-time timers of every stage in one heap, fired in (time, registration) order."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from shopstream.state.errors import StateError

__all__ = ["SEQ_BITS", "TimerQueue"]

#: A heap entry is ``timestamp_ms << SEQ_BITS | seq``: one integer, so the heap compares
#: integers instead of tuples (``entry >> SEQ_BITS`` is the time; 2**48 registrations
#: last 89 years at 100,000 a second).
SEQ_BITS = 48
_SEQ_MASK = (1 << SEQ_BITS) - 1


class TimerQueue:
    """Timers of ``(stage, key, timestamp_ms)``; one live timer per (stage, key, time).

    The heap holds one integer per registration, ``timestamp_ms << SEQ_BITS | seq``;
    the registration ``seq`` names its timer in a table. Deletion drops the timer from
    the table and leaves its heap entry, skipped when it comes up; a timer deleted and
    registered again gets a new ``seq`` and fires in its new place, never through the
    stale entry (which a snapshot does not keep: a restored run must fire in the same
    order).

    Examples
    --------
    >>> q = TimerQueue()
    >>> q.register(0, "k", 50); q.register(0, "k", 20); q.register(0, "k", 50)
    >>> q.delete(0, "k", 20)
    >>> q.peek_time()
    50
    >>> q.pop(), q.peek_time() is None
    ((50, 0, 'k'), True)
    """

    def __init__(self) -> None:
        #: ``timestamp_ms << SEQ_BITS | seq`` entries, some possibly deleted; read-only
        #: outside this class (the engine peeks at ``heap[0] >> SEQ_BITS`` on its hot
        #: path).
        self.heap: list[int] = []
        #: ``(stage, key, timestamp_ms)`` -> the seq of its live registration
        self._live: dict[tuple[int, str, int], int] = {}
        #: seq of a live registration -> its ``(stage, key, timestamp_ms)``
        self._timers: dict[int, tuple[int, str, int]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def register(self, stage: int, key: str, timestamp_ms: int) -> None:
        if type(timestamp_ms) is not int:
            timestamp_ms = _whole_ms(stage, key, timestamp_ms)
        ident = (stage, key, timestamp_ms)
        live = self._live
        if ident in live:
            return
        self._seq = seq = self._seq + 1
        live[ident] = seq
        self._timers[seq] = ident
        heapq.heappush(self.heap, timestamp_ms << SEQ_BITS | seq)

    def delete(self, stage: int, key: str, timestamp_ms: int) -> None:
        seq = self._live.pop((stage, key, timestamp_ms), None)
        if seq is not None:
            del self._timers[seq]

    def peek_time(self) -> int | None:
        """Time of the next live timer, dropping deleted ones on the way."""
        heap = self.heap
        timers = self._timers
        while heap:
            if heap[0] & _SEQ_MASK in timers:
                return heap[0] >> SEQ_BITS
            heapq.heappop(heap)
        return None

    def pop_raw(self) -> tuple[int, int, str] | None:
        """Remove the earliest queued timer; ``None`` when it had been deleted."""
        ident = self._timers.pop(heapq.heappop(self.heap) & _SEQ_MASK, None)
        if ident is None:
            return None
        del self._live[ident]
        stage, key, ts = ident
        return ts, stage, key

    def fire_due(self, before_ms: int, fire: Callable[[int, int, str], None]) -> None:
        """Remove every live timer due before ``before_ms`` in order and call
        ``fire(timestamp_ms, stage, key)`` for each; a timer that ``fire`` registers
        before ``before_ms`` fires in this call too (the engine's hot loop: one call per
        batch of due timers instead of one per timer)."""
        heap = self.heap
        live = self._live
        pop_timer = self._timers.pop
        pop = heapq.heappop
        bound = before_ms << SEQ_BITS
        mask = _SEQ_MASK
        while heap and heap[0] < bound:
            ident = pop_timer(pop(heap) & mask, None)
            if ident is not None:
                del live[ident]
                fire(ident[2], ident[0], ident[1])

    def pop(self) -> tuple[int, int, str]:
        """Remove and return the next live timer as ``(timestamp_ms, stage, key)``."""
        while self.heap:
            timer = self.pop_raw()
            if timer is not None:
                return timer
        msg = "no timer is due"
        raise IndexError(msg)

    def snapshot(self) -> dict[str, Any]:
        """The live timers as sorted ``(timestamp_ms, seq, stage, key)`` rows."""
        timers = self._timers
        live = []
        for entry in self.heap:
            seq = entry & _SEQ_MASK
            ident = timers.get(seq)
            if ident is not None:
                live.append((ident[2], seq, ident[0], ident[1]))
        return {"heap": sorted(live), "seq": self._seq}

    def restore(self, snapshot: dict[str, Any]) -> None:
        rows = [(int(ts), int(seq), int(stage), str(key))
                for ts, seq, stage, key in snapshot["heap"]]
        self.heap = [ts << SEQ_BITS | seq for ts, seq, _, _ in rows]
        heapq.heapify(self.heap)
        self._timers = {seq: (stage, key, ts) for ts, seq, stage, key in rows}
        self._live = {ident: seq for seq, ident in self._timers.items()}
        self._seq = int(snapshot["seq"])


def _whole_ms(stage: int, key: str, timestamp_ms: object) -> int:
    """``timestamp_ms`` as an int when it is a whole number of milliseconds (a float from a
    configuration, say ``1.8e6``); a :class:`StateError` naming the stage and key when not.

    >>> _whole_ms(0, "s1", 1.8e6)
    1800000
    >>> _whole_ms(2, "s1", 1.5)
    Traceback (most recent call last):
    ...
    shopstream.state.errors.StateError: stage #2, key 's1': timers take whole ms, got 1.5
    """
    if isinstance(timestamp_ms, float) and timestamp_ms.is_integer():
        return int(timestamp_ms)
    if isinstance(timestamp_ms, int):  # bool or an int subclass
        return int(timestamp_ms)
    msg = f"stage #{stage}, key {key!r}: timers take whole ms, got {timestamp_ms!r}"
    raise StateError(msg)
