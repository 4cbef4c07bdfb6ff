"""Event-time watermarks per Kafka partition, with idleness: Flink's model for a source
that reads several partitions.

Each partition's watermark follows its own events (bounded out-of-orderness:
``max_event_ms - bound - 1``, the engine's convention), so a partition read ahead of
the others cannot push event time past events the others have not delivered yet. The
source's watermark is the minimum over the *active* partitions. A partition is idle,
and stops holding the minimum back (Flink's ``withIdleness``), when it has nothing
buffered and either

- the broker said it was read to its end (partition EOF) and no event came for
  ``caught_up_s`` since, or
- no event came for ``idle_timeout_s``;

its next event makes it active again. A checkpoint keeps each partition's watermark
as of the events released downstream (:meth:`PartitionWatermarks.snapshot`); a resume
starts from it. Only events with an event time count: a message
that does not decode (a dead letter) or carries reference data neither moves a
watermark nor keeps a partition active.

Time here is a *poll clock* the caller passes in: seconds spent waiting on the broker.
While the pipeline processes released messages the consumer does not fetch, so that
time must not make a partition look idle.

Examples
--------
>>> marks = PartitionWatermarks(bound_ms=5, idle_timeout_s=10.0, caught_up_s=0.5)
>>> marks.assign(("t", 0), now=0.0)
>>> marks.assign(("t", 1), now=0.0)
>>> marks.event(("t", 0), 100, now=0.1)
>>> marks.watermark(("t", 0)), marks.watermark(("t", 1)) is None
(94, True)
>>> marks.event(("t", 1), 40, now=0.2)
>>> marks.release_bound(now=0.2, busy=set())   # events up to here may be released
40
>>> marks.reached_end(("t", 1), now=0.3)
>>> marks.release_bound(now=0.6, busy=set())   # partition 1 is caught up, not yet idle
40
>>> marks.release_bound(now=0.9, busy=set())   # idle: partition 0 alone decides
100
>>> marks.released(("t", 1), 40)
>>> marks.snapshot()   # what a checkpoint keeps: the watermarks of released events
{('t', 1): 34}
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from shopstream.errors import ConfigError

__all__ = ["NO_EVENT", "Partition", "PartitionWatermarks"]

Partition = tuple[str, int]

#: The max event time of a partition that has shown no event yet.
NO_EVENT = -(2**63)
#: The release bound when no partition holds anything back.
_UNBOUNDED = 2**63 - 1


@dataclass
class _PartitionTime:
    """What one partition has shown of event time, and when (on the poll clock)."""

    max_event_ms: int = NO_EVENT
    # The newest event released downstream: what a checkpoint may claim (messages still
    # buffered are fetched again after a resume, and may be older than the newest).
    released_ms: int = NO_EVENT
    # Last event, assignment or resume: idleness is measured from here.
    heard_s: float = 0.0
    # When the broker said the partition is read to its end; None once data came after.
    end_s: float | None = None


class PartitionWatermarks:
    """Per-partition bounded out-of-orderness watermarks; see the module docs.

    Parameters
    ----------
    bound_ms
        How far behind the newest event of its partition an event may be (the engine's
        bound: ``RunnerConfig.out_of_orderness_ms``).
    idle_timeout_s
        A partition with nothing buffered and no event for this long is idle.
    caught_up_s
        A partition read to its end with no event for this long is idle.
    """

    def __init__(self, bound_ms: int, idle_timeout_s: float, caught_up_s: float) -> None:
        if bound_ms < 0:
            msg = f"PartitionWatermarks.bound_ms must be >= 0, got {bound_ms!r}"
            raise ConfigError(msg)
        self.bound_ms = bound_ms
        self.idle_timeout_s = idle_timeout_s
        self.caught_up_s = caught_up_s
        self._parts: dict[Partition, _PartitionTime] = {}
        self._snapshot: dict[Partition, int] | None = None
        self._hold_until = float("-inf")

    # -- what the consumer saw -----------------------------------------------------------
    def assign(self, partition: Partition, now: float, watermark_ms: int | None = None) -> None:
        """Start tracking ``partition`` (from a checkpointed watermark, if any)."""
        start = NO_EVENT if watermark_ms is None else watermark_ms + self.bound_ms + 1
        self._parts[partition] = _PartitionTime(start, start, now)
        self._snapshot = None

    def event(self, partition: Partition, timestamp_ms: int, now: float) -> None:
        """An event of ``partition`` at ``timestamp_ms`` was fetched."""
        part = self._parts[partition]
        part.heard_s = now
        part.end_s = None
        if timestamp_ms > part.max_event_ms:
            part.max_event_ms = timestamp_ms

    def released(self, partition: Partition, timestamp_ms: int) -> None:
        """An event of ``partition`` at ``timestamp_ms`` went downstream."""
        part = self._parts[partition]
        if timestamp_ms > part.released_ms:
            part.released_ms = timestamp_ms
            self._snapshot = None

    def untimed(self, partition: Partition) -> None:
        """A message without event time was fetched: the partition is not at its end,
        but it is not active either."""
        self._parts[partition].end_s = None

    def reached_end(self, partition: Partition, now: float) -> None:
        """The broker said everything of ``partition`` has been fetched."""
        part = self._parts[partition]
        if part.end_s is None:
            part.end_s = now

    def resumed(self, partition: Partition, now: float) -> None:
        """Fetching ``partition`` starts again after a pause: its silence while paused
        said nothing about its data."""
        self._parts[partition].heard_s = now

    def reconnected(self, now: float, hold_s: float = 0.0) -> None:
        """The broker answers again after an outage: what each partition showed before
        (its end, its silence) is stale until fetches say anew. For ``hold_s`` more (the
        outage grace) no partition is idle: producers that lost the broker too may
        still be sending what they held, so a partition they write to must keep holding
        event time back even once read to its end.

        >>> marks = PartitionWatermarks(bound_ms=5, idle_timeout_s=5.0, caught_up_s=0.5)
        >>> marks.assign(("t", 0), now=0.0)
        >>> marks.assign(("t", 1), now=0.0)
        >>> marks.event(("t", 1), 89, now=1.0)
        >>> marks.reconnected(100.0, hold_s=15.0)
        >>> marks.reached_end(("t", 1), now=100.2)
        >>> marks.event(("t", 0), 110, now=101.0)
        >>> marks.idle(("t", 1), 101.0), marks.release_bound(101.0, ())
        (False, 89)
        >>> marks.idle(("t", 1), 115.0)
        True
        """
        self._hold_until = now + hold_s
        for part in self._parts.values():
            part.end_s = None
            part.heard_s = now

    # -- what may be released ------------------------------------------------------------
    @property
    def partitions(self) -> tuple[Partition, ...]:
        return tuple(self._parts)

    def idle(self, partition: Partition, now: float) -> bool:
        """Whether ``partition`` (with nothing buffered) stops holding time back."""
        if now < self._hold_until:
            return False
        part = self._parts[partition]
        if part.end_s is not None and now - part.end_s >= self.caught_up_s:
            return True
        return now - part.heard_s >= self.idle_timeout_s

    def release_bound(self, now: float, busy: Container[Partition]) -> int:
        """The newest event time that may be released: the minimum, over the active
        partitions, of their newest event (``busy`` partitions, those with buffered
        messages, are active whatever their silence). Releasing only up to it keeps a
        watermark computed from released events (``newest - bound - 1``) at or below
        the source watermark."""
        bound = _UNBOUNDED
        for partition, part in self._parts.items():
            if part.max_event_ms < bound and (partition in busy
                                              or not self.idle(partition, now)):
                bound = part.max_event_ms
        return bound

    def newest(self, partition: Partition) -> int | None:
        """The newest event time ``partition`` has shown (``None`` before its first)."""
        newest = self._parts[partition].max_event_ms
        return None if newest == NO_EVENT else newest

    def watermark(self, partition: Partition) -> int | None:
        """``partition``'s watermark, ``None`` before its first event."""
        newest = self._parts[partition].max_event_ms
        return None if newest == NO_EVENT else newest - self.bound_ms - 1

    def source_watermark(self, now: float, busy: Container[Partition]) -> int | None:
        """The minimum watermark over the active partitions (``None``: none has one, or
        every partition is idle)."""
        bound = self.release_bound(now, busy)
        if bound in (NO_EVENT, _UNBOUNDED):
            return None
        return bound - self.bound_ms - 1

    def snapshot(self) -> dict[Partition, int]:
        """Each partition's watermark as of the events released so far, for a checkpoint
        (the same dict until one moves: positions share it; do not modify it)."""
        if self._snapshot is None:
            self._snapshot = {tp: part.released_ms - self.bound_ms - 1
                              for tp, part in self._parts.items()
                              if part.released_ms != NO_EVENT}
        return self._snapshot
