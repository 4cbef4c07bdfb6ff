"""The event-time window of a replay: refuse a line far ahead of the stream's progress.

One event stamped a day ahead (or in year 9999) in the middle of a file would move the
watermark there and make every later valid event late. A live door checks event time
against the ingest clock (:func:`~shopstream.events.limits.check_event`); a replayed file
has no useful clock (its events may be years old), so it is checked against its own
progress, the newest event time accepted so far:

- an event at most ``max_ahead_ms`` ahead of the newest accepted one is accepted;
- one further ahead is *held*, not accepted yet: if an in-window event comes before the
  held ones are confirmed, they were noise (they would have made it late) and go to
  ``dead-letter`` (stage ``limit``) with the reason;
- ``confirm_events`` consecutive held events are a real gap in the data (a quiet night in
  a replay, or sparse data): all are accepted, in their order, and the window moves on;
- held events still pending when the input ends are accepted: nothing came after them
  that they could make late.

A Kafka topic replayed by ``run --kafka`` is held to the same rule, partition by
partition (:class:`PartitionGate`, on raw records before they reach the watermarks).

The first event has nothing to be compared with: it is checked against the ingest clock
only (so an event ahead of the wall clock never starts a replay). Catalog and account
changes never move the watermark, so they are not held.

Examples
--------
>>> from shopstream.events.model import EventType, ShopperEvent
>>> def ev(ts):
...     return ShopperEvent(EventType.PAGE_VIEW, ts, "s")
>>> window = ProgressWindow(max_ahead_ms=1_000, confirm_events=2)
>>> window.admit(ev(5_000), b"a", 1, 4_000)[0] == (ev(5_000),)
True
>>> window.admit(ev(90_000), b"b", 2, 5_000)          # held
((), [])
>>> accepted, refused = window.admit(ev(5_100), b"c", 3, 5_000)
>>> [e.timestamp_ms for e in accepted], [(r.raw, r.position) for r in refused]
([5100], [(b'b', 2)])
>>> window.admit(ev(90_000), b"d", 4, 5_100)                 # held again
((), [])
>>> [e.timestamp_ms for e in window.admit(ev(97_000), b"e", 5, 5_100)[0]]  # confirmed
[90000, 97000]
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shopstream.events.limits import format_ms
from shopstream.events.model import ShopperEvent

__all__ = ["PartitionGate", "Passed", "ProgressWindow", "Refusal"]


class Refusal(NamedTuple):
    """A line refused by the window: its bytes, its position and why."""

    raw: bytes
    position: Any
    reason: str


class _Held(NamedTuple):
    event: ShopperEvent
    raw: bytes
    position: Any
    newest_ms: int


class ProgressWindow:
    """Holds and refuses events far ahead of the newest accepted one (see the module)."""

    def __init__(self, max_ahead_ms: int, confirm_events: int) -> None:
        self.max_ahead_ms = max_ahead_ms
        self.confirm_events = confirm_events
        self.held: list[_Held] = []
        self.refused = 0

    def admit(self, event: ShopperEvent, raw: bytes, position: Any, newest_ms: int | None,
              ) -> tuple[tuple[ShopperEvent, ...], list[Refusal]]:
        """The events to accept now (in order) and the lines refused, after ``event``
        arrived while ``newest_ms`` (``None``: nothing yet) was the newest accepted time."""
        ts = event.timestamp_ms
        held = self.held
        if newest_ms is None or ts <= newest_ms + self.max_ahead_ms:
            if not held:
                return (event,), []
            return (event,), self._refuse_held()
        held.append(_Held(event, raw, position, newest_ms))
        if len(held) < self.confirm_events:
            return (), []
        accepted = tuple(h.event for h in held)
        held.clear()
        return accepted, []

    def finish(self) -> tuple[ShopperEvent, ...]:
        """End of input: the held events, to accept (nothing came that they make late)."""
        accepted = tuple(h.event for h in self.held)
        self.held.clear()
        return accepted

    def _refuse_held(self) -> list[Refusal]:
        refused = [Refusal(h.raw, h.position, self._reason(h.event.timestamp_ms, h.newest_ms))
                   for h in self.held]
        self.refused += len(refused)
        self.held.clear()
        return refused

    def _reason(self, ts: int, newest_ms: int) -> str:
        ahead_h = (ts - newest_ms) / 3_600_000
        return (f"timestamp {ts} ({format_ms(ts)}) is {ahead_h:.1f} h ahead of the newest "
                f"accepted event time ({format_ms(newest_ms)}), more than max_ahead_ms="
                f"{self.max_ahead_ms} (--max-ahead-hours), and the events after it were "
                "not (it would have made them late)")


class _Pending(NamedTuple):
    timestamp_ms: int | None
    raw: bytes
    offset: int


#: What a :class:`PartitionGate` lets through: ``(event time or None, bytes, offset)``;
#: a refused record is a :class:`Refusal` (its bytes, offset and reason), time ``None``.
Passed = tuple[int | None, bytes | Refusal, int]


class PartitionGate:
    """The progress window of one ordered stream (a Kafka partition), on raw records.

    The same rule as :class:`ProgressWindow`, where the window follows the newest event
    time the partition let through (``newest_ms``, given by the caller): a record further
    than ``max_ahead_ms`` ahead is held, with every record after it, until an in-window
    event refuses the held ones or ``confirm_events`` held events confirm a real gap.
    Records keep their partition order; a refused one comes out as a
    :class:`Refusal` without event time, so it moves no watermark. Records without
    event time (dead letters, reference data) never decide anything. An event within
    ``max_ahead_ms`` of the ingest clock (``now_ms``) is live data after a quiet spell,
    never noise: it is let through. Memory: the held records, at most ``confirm_events``
    events and the untimed records between them.

    Examples
    --------
    >>> gate = PartitionGate(max_ahead_ms=1_000, confirm_events=2)
    >>> gate.offer(5_000, b"a", 1, None, now_ms=10**13)
    [(5000, b'a', 1)]
    >>> gate.offer(90_000, b"b", 2, 5_000, now_ms=10**13), len(gate)  # held
    ([], 1)
    >>> gate.offer(None, b"oops", 3, 5_000, now_ms=10**13)               # waits behind it
    []
    >>> passed = gate.offer(5_100, b"c", 4, 5_000, now_ms=10**13)
    >>> [(ts, type(raw).__name__, offset) for ts, raw, offset in passed]
    [(None, 'Refusal', 2), (None, 'bytes', 3), (5100, 'bytes', 4)]
    >>> gate.offer(90_000, b"d", 5, 5_100, now_ms=10**13)
    []
    >>> gate.offer(97_000, b"e", 6, 5_100, now_ms=10**13)                 # confirmed
    [(90000, b'd', 5), (97000, b'e', 6)]
    """

    def __init__(self, max_ahead_ms: int, confirm_events: int, name: str = "") -> None:
        self.max_ahead_ms = max_ahead_ms
        self.confirm_events = confirm_events
        self.name = name
        self._held: list[_Pending] = []
        self._timed = 0
        self._newest_ms = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._held)

    def offer(self, timestamp_ms: int | None, raw: bytes, offset: int,
              newest_ms: int | None, now_ms: int) -> list[Passed]:
        """The records to let through now, in order, after this one arrived while
        ``newest_ms`` (``None``: nothing yet) was the newest event time let through."""
        held = self._held
        ahead = self.max_ahead_ms
        in_window = (timestamp_ms is None or newest_ms is None
                     or timestamp_ms <= newest_ms + ahead
                     or now_ms - ahead <= timestamp_ms <= now_ms + ahead)
        if not held:
            if in_window:
                return [(timestamp_ms, raw, offset)]
            self._newest_ms = newest_ms if newest_ms is not None else 0
        elif in_window and timestamp_ms is not None:
            passed = [self._refuse(h) for h in held]
            passed.append((timestamp_ms, raw, offset))
            held.clear()
            self._timed = 0
            return passed
        held.append(_Pending(timestamp_ms, raw, offset))
        if timestamp_ms is None:
            return []
        self._timed += 1
        if self._timed < self.confirm_events:
            return []
        passed = [(h.timestamp_ms, h.raw, h.offset) for h in held]
        held.clear()
        self._timed = 0
        return passed

    def finish(self) -> list[Passed]:
        """End of input: the held records go through (nothing came that they make late)."""
        passed: list[Passed] = [(h.timestamp_ms, h.raw, h.offset) for h in self._held]
        self._held.clear()
        self._timed = 0
        return passed

    def _refuse(self, held: _Pending) -> Passed:
        ts = held.timestamp_ms
        if ts is None:
            return held.timestamp_ms, held.raw, held.offset
        self.refused += 1
        newest = self._newest_ms
        where = f" of {self.name}" if self.name else ""
        reason = (f"timestamp {ts} ({format_ms(ts)}) is {(ts - newest) / 3_600_000:.1f} h "
                  f"ahead of the newest accepted event time{where} ({format_ms(newest)}), "
                  f"more than max_ahead_ms={self.max_ahead_ms} (--max-ahead-hours), and the "
                  "events after it were not (it would have made them late)")
        return None, Refusal(held.raw, held.offset, reason), held.offset
