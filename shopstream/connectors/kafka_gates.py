"""The per-partition progress gates of a Kafka source, in front of its merge.

Each partition of a replayed history is judged by its own progress
(:class:`~shopstream.events.time_window.PartitionGate`, ``InputLimits.max_ahead_ms`` and
``confirm_events``): an event far ahead of what its partition showed is held, then
refused (a :class:`~shopstream.events.time_window.Refusal`) or confirmed, so that it
never moves a watermark nor makes the partition's later events late.
:func:`event_time` is what a gate judges a record by. :class:`PartitionGates` makes one
gate per partition on its first record and hands what the gate lets through to the
source's :class:`~shopstream.connectors.partition_merge.PartitionMerge`. A refused record
goes to the merge as a record without event time, so that it keeps its place in its
partition, and its reason waits in :meth:`PartitionGates.refusal` until the merge
releases it: the source then hands it to the runner as a
:class:`~shopstream.events.time_window.Refusal` (a dead letter), not as bytes to decode.
"""

from __future__ import annotations

from shopstream.connectors.partition_merge import PartitionMerge
from shopstream.connectors.partition_watermarks import Partition
from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.model import CATALOG_KINDS
from shopstream.events.time_window import PartitionGate, Passed, Refusal

__all__ = ["PartitionGates", "event_time"]


def event_time(decoder: EventDecoder, value: bytes) -> int | None:
    """The event time of a message as the runner will see it: ``None`` when it will go
    to ``dead-letter``, or when it is reference data, which never moves a watermark.

    Examples
    --------
    >>> dec = EventDecoder()
    >>> event_time(dec, b'{"eventType":"PAGE_VIEW","sessionId":"s","timestamp":7}')
    7
    >>> event_time(dec, b'{"eventType":"PAGE_VIEW","sessionId":"s"}') is None
    True
    """
    try:
        event = decoder.decode(value)
    except DecodeError:
        return None
    return None if event.event_type in CATALOG_KINDS else event.timestamp_ms


class PartitionGates:
    """The progress gates of the partitions feeding ``merge`` under ``limits``
    (``max_ahead_ms`` ``None``: no gate, every record goes to the merge as it comes).

    Memory: one gate per partition seen, each holding at most ``confirm_events`` events
    and the untimed records between them (:class:`PartitionGate`'s bound), and the reason
    of each refused record still in the merge.

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
    >>> [(v, gates.refusal(tp, at)) for tp, v, at in merge.ready(1.0)]  # doctest: +ELLIPSIS
    [(b'a', None), (b'b', 'timestamp 90000 (...) is 0.0 h ahead...'), (b'c', None), (b'd', None)]
    """

    def __init__(self, merge: PartitionMerge, limits: InputLimits) -> None:
        self.merge = merge
        self._ahead = limits.max_ahead_ms
        self._confirm = limits.confirm_events
        self._gates: dict[Partition, PartitionGate] = {}
        # (partition, offset) of a refused record in the merge -> why it was refused.
        self._reasons: dict[tuple[Partition, int], str] = {}

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
        self._to_merge(partition, passed, clock)
        if not passed:  # held: the partition has data, but no event time yet
            merge.watermarks.untimed(partition)

    def refusal(self, partition: Partition, offset: int) -> str | None:
        """Why the record at ``offset`` the merge just released was refused (``None``:
        it was not); call it once per released record."""
        reasons = self._reasons
        return reasons.pop((partition, offset), None) if reasons else None

    def finish(self, clock: float) -> bool:
        """The input ends complete: what the gates still hold goes through (nothing came
        after it that it could make late), as at the end of a file. Whether any did."""
        finished = False
        for partition, gate in self._gates.items():
            passed = gate.finish()
            self._to_merge(partition, passed, clock)
            finished = finished or bool(passed)
        return finished

    def _to_merge(self, partition: Partition, passed: list[Passed], clock: float) -> None:
        merge = self.merge
        for ts, raw, at in passed:
            if isinstance(raw, Refusal):
                self._reasons[(partition, at)] = raw.reason
                raw = raw.raw
            merge.add(partition, ts, raw, at, clock)
