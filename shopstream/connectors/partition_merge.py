"""Messages of several Kafka partitions, merged by event time up to the partitions'
watermarks.

A consumer catching up on a backlog gets partitions in big chunks (a whole partition
before the next, with some brokers), and the message timestamp is often the produce
time, which says nothing about the events' order. The engine's watermark follows the
newest event it was given, so feeding it one partition ahead of the others would make
the others' events late. :class:`PartitionMerge` buffers each partition (in offset
order: a partition is never reordered) and releases the oldest head by *event time*,
but only up to :meth:`PartitionWatermarks.release_bound
<shopstream.connectors.partition_watermarks.PartitionWatermarks.release_bound>`: the
newest event every active partition has already shown. A watermark computed from the
released events therefore never passes the source's watermark (the minimum of the
per-partition watermarks), and an event within its partition's bound is never late.

Messages without an event time (``timestamp_ms=None``: they did not decode, or carry
reference data that never moves the watermark) are released as soon as they reach the
head of their partition: they wait for nothing and hold nothing back.

Examples
--------
>>> from shopstream.connectors.partition_watermarks import PartitionWatermarks
>>> merge = PartitionMerge(PartitionWatermarks(bound_ms=5, idle_timeout_s=5.0,
...                                            caught_up_s=0.5))
>>> merge.assign(("t", 0), now=0.0)
>>> merge.assign(("t", 1), now=0.0)
>>> merge.add(("t", 0), 10, b"a", 7, now=0.0)
>>> merge.add(("t", 0), None, b"oops", 8, now=0.0)
>>> merge.add(("t", 0), 30, b"c", 9, now=0.0)
>>> list(merge.ready(now=0.1))   # partition 1 has shown no event time yet
[]
>>> merge.add(("t", 1), 20, b"b", 3, now=0.2)
>>> [value for _, value, _ in merge.ready(now=0.2)]   # both have shown 20 or more
[b'a', b'oops', b'b']
>>> merge.reached_end(("t", 1), now=0.2)
>>> [(tp, value, offset) for tp, value, offset in merge.ready(now=0.8)]
[(('t', 0), b'c', 9)]
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterator

from shopstream.connectors.partition_watermarks import (
    NO_EVENT,
    Partition,
    PartitionWatermarks,
)

__all__ = ["Partition", "PartitionMerge"]


class PartitionMerge:
    """Per-partition buffers of ``(event time, value, offset)``; see the module docs."""

    def __init__(self, watermarks: PartitionWatermarks) -> None:
        self.watermarks = watermarks
        self._buffers: dict[Partition, deque[tuple[int | None, bytes, int]]] = {}
        # One entry per non-empty buffer: (event time of its head, tie-break, partition);
        # a head without event time sorts first.
        self._heads: list[tuple[int, int, Partition]] = []
        self._busy: set[Partition] = set()
        self._seq = itertools.count()
        self._size = 0

    def assign(self, partition: Partition, now: float, watermark_ms: int | None = None,
               ) -> None:
        """Read ``partition`` too (at the start, or when it appears), from a checkpointed
        watermark if there is one."""
        if partition not in self._buffers:
            self._buffers[partition] = deque()
            self.watermarks.assign(partition, now, watermark_ms)

    def add(self, partition: Partition, timestamp_ms: int | None, value: bytes, offset: int,
            now: float) -> None:
        """Buffer the next message of ``partition``."""
        buf = self._buffers[partition]
        if timestamp_ms is None:
            self.watermarks.untimed(partition)
        else:
            self.watermarks.event(partition, timestamp_ms, now)
        if not buf:
            key = NO_EVENT if timestamp_ms is None else timestamp_ms
            heapq.heappush(self._heads, (key, next(self._seq), partition))
            self._busy.add(partition)
        buf.append((timestamp_ms, value, offset))
        self._size += 1

    def reached_end(self, partition: Partition, now: float) -> None:
        """The broker said ``partition`` has nothing more for now."""
        self.watermarks.reached_end(partition, now)

    def resumed(self, partition: Partition, now: float) -> None:
        """Fetching ``partition`` starts again after a pause."""
        self.watermarks.resumed(partition, now)

    @property
    def partitions(self) -> tuple[Partition, ...]:
        return tuple(self._buffers)

    def buffered(self, partition: Partition) -> int:
        return len(self._buffers[partition])

    def __len__(self) -> int:
        return self._size

    def ready(self, now: float) -> Iterator[tuple[Partition, bytes, int]]:
        """Release ``(partition, value, offset)``, oldest head first, while the head is
        within the release bound (or has no event time)."""
        bound = self.watermarks.release_bound(now, self._busy)
        heads, buffers = self._heads, self._buffers
        released = self.watermarks.released
        while heads:
            key, _, partition = heads[0]
            if key > bound:
                return
            buf = buffers[partition]
            timestamp_ms, value, offset = buf.popleft()
            self._size -= 1
            if timestamp_ms is not None:
                released(partition, timestamp_ms)
            if buf:
                head = buf[0][0]
                heapq.heapreplace(heads, (NO_EVENT if head is None else head,
                                          next(self._seq), partition))
            else:
                heapq.heappop(heads)
                self._busy.discard(partition)
                # A partition read to its end long ago no longer holds the others back.
                bound = self.watermarks.release_bound(now, self._busy)
            yield partition, value, offset

    def source_watermark(self, now: float) -> int | None:
        """The minimum watermark over the active partitions (``None`` before any)."""
        return self.watermarks.source_watermark(now, self._busy)
