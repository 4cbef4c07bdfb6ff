"""Space-Saving: the most frequent items of a stream in bounded memory.

Metwally, Agrawal and El Abbadi (2005). At most ``capacity`` counters are kept; an item
without a counter takes over the smallest one, inheriting its count as the possible
overestimate ``error``. Any item occurring more than ``N / capacity`` times in a stream of
``N`` is guaranteed a counter, and ``count - error <= true count <= count``.

The smallest counter is found through a min-heap with lazy deletion (stale entries are
skipped when popped; the heap is rebuilt when it grows beyond four times the capacity), so
an update costs ``O(log capacity)`` amortised. The heap is built only when the counters
first run out: until then an update is one dictionary write.

Examples
--------
>>> sketch = SpaceSaving(2)
>>> for item in "aabac":
...     _ = sketch.add(item)
>>> sketch.top(2)
[('a', 3, 0), ('c', 2, 1)]
>>> sketch.add("d")  # takes over c's counter
('c', 2)
"""

from __future__ import annotations

import heapq

from shopstream.errors import ConfigError

__all__ = ["SpaceSaving"]


class SpaceSaving:
    """Counters for the heaviest items; see the module documentation."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            msg = f"SpaceSaving.capacity must be >= 1, got {capacity!r}"
            raise ConfigError(msg)
        self.capacity = capacity
        self.counts: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.total = 0
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, item: str, count: int = 1) -> tuple[str, int] | None:
        """Count ``count`` more occurrences of ``item``; return the item whose counter it
        took over and that counter's count, if any."""
        self.total += count
        counts = self.counts
        heap = self._heap  # empty until the counters first run out
        current = counts.get(item)
        evicted = None
        if current is not None:
            counts[item] = current + count
        elif len(counts) < self.capacity:
            counts[item] = count
            self.errors[item] = 0
        else:
            if not heap:
                heap = self._heap = [(c, i) for i, c in counts.items()]
                heapq.heapify(heap)
            evicted = floor, victim = self._pop_min()
            del counts[victim]
            del self.errors[victim]
            counts[item] = floor + count
            self.errors[item] = floor
        if heap:
            heapq.heappush(heap, (counts[item], item))
            if len(heap) > 4 * self.capacity:
                self._heap = [(c, i) for i, c in counts.items()]
                heapq.heapify(self._heap)
        return (evicted[1], evicted[0]) if evicted is not None else None

    def top(self, k: int) -> list[tuple[str, int, int]]:
        """The ``k`` largest ``(item, count, error)``, count descending then item."""
        best = heapq.nsmallest(k, self.counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [(item, count, self.errors[item]) for item, count in best]

    def _pop_min(self) -> tuple[int, str]:
        heap, counts = self._heap, self.counts
        while True:
            count, item = heapq.heappop(heap)
            if counts.get(item) == count:
                return count, item
