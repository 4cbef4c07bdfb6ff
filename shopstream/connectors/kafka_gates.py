"""The per-partition progress gates of a Kafka source, in front of its merge.

Each partition of a replayed history is judged by its own progress
(:class:`~shopstream.events.time_window.PartitionGate`, ``InputLimits.max_ahead_ms`` and
``confirm_events``): an event far ahead of what its partition showed is held, then
refused (a :class:`~shopstream.events.limits.RefusedRecord`) or confirmed, so that it
never moves a watermark nor makes the partition's later events late.
:class:`PartitionGates` makes one gate per partition on its first record and hands what
the gate lets through to the source's
:class:`~shopstream.connectors.partition_merge.PartitionMerge`.
"""

from __future__ import annotations

from shopstream.connectors.partition_merge import PartitionMerge
from shopstream.connectors.partition_watermarks import Partition
from shopstream.events.limits import InputLimits
from shopstream.events.time_window import PartitionGate

__all__ = ["PartitionGates"]


class PartitionGates:
    """The progress gates of the partitions feeding ``merge`` under ``limits``
    (``max_ahead_ms`` ``None``: no gate, every record goes to the merge as it comes).

    Memory: one gate per partition seen, each holding at most ``confirm_events`` events
    and the untimed records between them (:class:`PartitionGate`'s bound).

    Examples
    --------
    >>> from shopstream.connectors.partition_watermarks import PartitionWatermarks
    >>> merge = PartitionMerge(PartitionWatermarks(0, 5.0, 0.5))
    >>> merge.assign(("t", 0), 0.0)
    >>> gates = PartitionGates(merge, InputLimits(max_ahead_ms=1_000, confirm_events=2))
    >>> now = 10**13
    >>> gates.add(("t", 0), 5_000, b"a", 0, now, 0.0)
    >>> gates.add(("t", 0), 90_000, b"b", 1, now, 0.0)  # held: far ahead of 5000
    >>> gates.add(("t", 0), 5_100, b"c", 2, now, 0.0)   # in the window: refuses b
    >>> len(merge), gates.refused
    (3, 1)
    >>> gates.add(("t", 0), 99_000, b"d", 3, now, 0.0)  # held again
    >>> gates.finish(0.0), len(merge)                   # the input ended complete
    (True, 4)
    """

    def __init__(self, merge: PartitionMerge, limits: InputLimits) -> None:
        self.merge = merge
        self._ahead = limits.max_ahead_ms
        self._confirm = limits.confirm_events
        self._gates: dict[Partition, PartitionGate] = {}

    @property
    def refused(self) -> int:
        """Records refused so far, over every partition."""
        return sum(gate.refused for gate in self._gates.values())

    def add(self, partition: Partition, timestamp_ms: int | None, value: bytes,
            offset: int, now_ms: int, clock: float) -> None:
        """Offer the record at ``offset`` (event time ``timestamp_ms``, ``None`` for a
        dead letter or reference data) at ingest time ``now_ms`` and poll clock
        ``clock``; what its partition's gate lets through goes to the merge."""
        merge = self.merge
        ahead = self._ahead
        if ahead is None:
            merge.add(partition, timestamp_ms, value, offset, clock)
            return
        gate = self._gates.get(partition)
        if gate is None:
            gate = self._gates[partition] = PartitionGate(
                ahead, self._confirm, f"{partition[0]}[{partition[1]}]")
        passed = gate.offer(timestamp_ms, value, offset,
                            merge.watermarks.newest(partition), now_ms)
        for ts, raw, at in passed:
            merge.add(partition, ts, raw, at, clock)
        if not passed:  # held: the partition has data, but no event time yet
            merge.watermarks.untimed(partition)

    def finish(self, clock: float) -> bool:
        """The input ends complete: what the gates still hold goes through (nothing came
        after it that it could make late), as at the end of a file. Whether any did."""
        finished = False
        for partition, gate in self._gates.items():
            for ts, raw, at in gate.finish():
                self.merge.add(partition, ts, raw, at, clock)
                finished = True
        return finished
