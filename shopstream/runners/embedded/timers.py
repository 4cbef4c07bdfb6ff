"""Event-time timers of every stage in one heap, fired in (time, registration) order."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

__all__ = ["TimerQueue"]


class TimerQueue:
    """Timers as ``(timestamp_ms, seq, stage, key)``; one live timer per (stage, key, time).

    Deletion is lazy: a deleted timer stays in the heap and is skipped when it comes up.
    Each live timer remembers the sequence number of its own heap entry, so a timer
    deleted and registered again fires in its new place, never through the stale entry
    (which a snapshot does not keep: a restored run must fire in the same order).

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
        #: ``(timestamp_ms, seq, stage, key)`` entries, some possibly deleted; read-only
        #: outside this class (the engine peeks at ``heap[0][0]`` on its hot path).
        self.heap: list[tuple[int, int, int, str]] = []
        self._live: dict[tuple[int, str, int], int] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def register(self, stage: int, key: str, timestamp_ms: int) -> None:
        ident = (stage, key, timestamp_ms)
        if ident in self._live:
            return
        self._seq += 1
        self._live[ident] = self._seq
        heapq.heappush(self.heap, (timestamp_ms, self._seq, stage, key))

    def delete(self, stage: int, key: str, timestamp_ms: int) -> None:
        self._live.pop((stage, key, timestamp_ms), None)

    def peek_time(self) -> int | None:
        """Time of the next live timer, dropping deleted ones on the way."""
        heap = self.heap
        while heap:
            ts, seq, stage, key = heap[0]
            if self._live.get((stage, key, ts)) == seq:
                return ts
            heapq.heappop(heap)
        return None

    def pop_raw(self) -> tuple[int, int, str] | None:
        """Remove the earliest queued timer; ``None`` when it had been deleted."""
        ts, seq, stage, key = heapq.heappop(self.heap)
        ident = (stage, key, ts)
        if self._live.get(ident) != seq:
            return None
        del self._live[ident]
        return ts, stage, key

    def fire_due(self, before_ms: int, fire: Callable[[int, int, str], None]) -> None:
        """Remove every live timer due before ``before_ms`` in order and call
        ``fire(timestamp_ms, stage, key)`` for each; a timer that ``fire`` registers
        before ``before_ms`` fires in this call too (the engine's hot loop: one call per
        batch of due timers instead of one per timer)."""
        heap = self.heap
        live = self._live
        pop = heapq.heappop
        while heap and heap[0][0] < before_ms:
            ts, seq, stage, key = pop(heap)
            ident = (stage, key, ts)
            if live.get(ident) == seq:
                del live[ident]
                fire(ts, stage, key)

    def pop(self) -> tuple[int, int, str]:
        """Remove and return the next live timer as ``(timestamp_ms, stage, key)``."""
        if self.peek_time() is None:
            msg = "no timer is due"
            raise IndexError(msg)
        ts, _, stage, key = heapq.heappop(self.heap)
        self._live.pop((stage, key, ts), None)
        return ts, stage, key

    def snapshot(self) -> dict[str, Any]:
        live = [entry for entry in self.heap
                if self._live.get((entry[2], entry[3], entry[0])) == entry[1]]
        return {"heap": sorted(live), "seq": self._seq}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.heap = [(int(ts), int(seq), int(stage), str(key))
                      for ts, seq, stage, key in snapshot["heap"]]
        heapq.heapify(self.heap)
        self._live = {(e[2], e[3], e[0]): e[1] for e in self.heap}
        self._seq = int(snapshot["seq"])
