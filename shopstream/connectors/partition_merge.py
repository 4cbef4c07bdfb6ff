"""Messages of several Kafka partitions, released in timestamp order.

A consumer catching up on a backlog gets partitions in big chunks (a whole partition
before the next, with some brokers), so events from the partition behind would fall
behind the watermark and count as late. :class:`PartitionMerge` buffers each partition
and always releases the oldest head (by the message timestamp, which producers set to
the event time or which is the produce time). A partition whose buffer ran dry holds the
others back for at most ``align_s``: it may be about to bring older messages; after
that it counts as caught up (the Kafka equivalent of Flink's idle-source timeout). The
clock is passed in, so the behaviour is testable. The wait is measured from the end of a
release (:meth:`PartitionMerge.settle`), not from the moment the buffer emptied: the
time the pipeline spends on released messages is time the consumer did not fetch.

Examples
--------
>>> merge = PartitionMerge([("t", 0), ("t", 1)], align_s=0.5, now=0.0)
>>> merge.add(("t", 0), 10, b"a", 7, now=0.0)
>>> merge.add(("t", 0), 30, b"c", 8, now=0.0)
>>> list(merge.ready(now=0.1))   # partition 1 may still bring something older
[]
>>> merge.add(("t", 1), 20, b"b", 3, now=0.2)
>>> [value for _, value, _ in merge.ready(now=0.2)]   # then partition 1 ran dry
[b'a', b'b']
>>> [(tp, value, offset) for tp, value, offset in merge.ready(now=0.8)]
[(('t', 0), b'c', 8)]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

__all__ = ["Partition", "PartitionMerge"]

Partition = tuple[str, int]


class PartitionMerge:
    """Per-partition buffers of ``(timestamp, value, offset)``; see the module docs."""

    def __init__(self, partitions: Iterable[Partition], align_s: float, now: float) -> None:
        self.align_s = align_s
        self._buffers: dict[Partition, deque[tuple[int, bytes, int]]] = {
            tp: deque() for tp in partitions}
        # When each partition last received data or ran dry (at first: the start): it is
        # waited for until align_s after that.
        self._since: dict[Partition, float] = dict.fromkeys(self._buffers, now)
        self._drained: set[Partition] = set()
        self._started = False

    def add(self, partition: Partition, timestamp: int, value: bytes, offset: int,
            now: float) -> None:
        """Buffer one message of ``partition``."""
        if not self._started:
            # The wait for the other partitions starts with the first message, not with
            # the consumer, whose first fetch may take longer than align_s.
            self._started = True
            self._since = dict.fromkeys(self._since, now)
        self._buffers[partition].append((timestamp, value, offset))
        self._since[partition] = now

    @property
    def partitions(self) -> tuple[Partition, ...]:
        return tuple(self._buffers)

    def buffered(self, partition: Partition) -> int:
        return len(self._buffers[partition])

    def __len__(self) -> int:
        return sum(len(buf) for buf in self._buffers.values())

    def ready(self, now: float) -> Iterator[tuple[Partition, bytes, int]]:
        """Release ``(partition, value, offset)`` oldest head first, while no partition
        that ran dry less than ``align_s`` ago could still bring something older."""
        buffers, since, align = self._buffers, self._since, self.align_s
        while True:
            best: Partition | None = None
            best_ts = 0
            for tp, buf in buffers.items():
                if buf:
                    if best is None or buf[0][0] < best_ts:
                        best, best_ts = tp, buf[0][0]
                elif now - since[tp] < align:
                    return
            if best is None:
                return
            buf = buffers[best]
            _, value, offset = buf.popleft()
            if not buf:
                since[best] = now
                self._drained.add(best)
            yield best, value, offset

    def settle(self, now: float) -> None:
        """Restart the wait of the partitions that ran dry during the last :meth:`ready`
        at ``now``: while the released messages were being processed the consumer could
        not fetch, so that time must not count as the partition being idle."""
        for tp in self._drained:
            if not self._buffers[tp]:
                self._since[tp] = now
        self._drained.clear()
