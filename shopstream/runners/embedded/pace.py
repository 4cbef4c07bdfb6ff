"""The pace of an embedded run: when it checkpoints (every so many lines or seconds) and
when an unbounded source's silence lets event time follow the clock.

Silence is measured on the source's own clock when it has one (``listened_s()``: the
seconds it spent waiting for input from a server that answered; a Kafka source's poll
clock, held for a grace after an outage while producers reconnect; a PostgreSQL CDC
source's time of the last reply of its server): a broker outage, a stalled replication
connection, or the run waiting on a stalled output, is not silence of the data, so
event time does not jump over it and the events stamped meanwhile, delivered once the
server is back, are not late. Other sources are timed by the wall clock.

Examples
--------
>>> pace = Pace(0.0, lines=0, every_events=100, every_seconds=1e9, idle_ms=5_000)
>>> pace.checkpoint_due(99), pace.checkpoint_due(100)
(False, True)
>>> pace.checkpointed(100); pace.checkpoint_due(150)
False

On a source's clock, time it did not listen (here 60 s of an outage) is no silence:

>>> listened = iter([0.0, 3.0, 6.0]).__next__  # the source's clock at each tick
>>> pace = Pace(0.0, lines=0, every_events=100, every_seconds=1e9, idle_ms=5_000,
...             listened=listened)
>>> pace.silence_ms(), pace.silence_ms()
(3000, 6000)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shopstream.runners.embedded.engine import Engine

__all__ = ["Pace"]


class Pace:
    """When a run checkpoints and when an unbounded source's silence moves event time:
    consulted every few thousand lines and on idle ticks, never per line. ``listened``:
    the source's clock of silence (seconds), ``None`` for the wall clock."""

    def __init__(self, now: float, lines: int, every_events: int, every_seconds: float,
                 idle_ms: int, listened: Callable[[], float] | None = None) -> None:
        self.started = self.last_checkpoint = now
        self.listened = listened or time.perf_counter
        self.last_input = self.listened()
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.idle_ms = idle_ms
        self.next_checkpoint = lines + self.every_events
        self.lines_at_tick = lines

    def idle_tick(self, lines: int, engine: Engine) -> bool:
        """An idle tick at ``lines``: process what came since the last one, or, after
        ``idle_ms`` of silence, let event time follow the clock. Whether a checkpoint is
        due by time."""
        if lines != self.lines_at_tick:  # input came since the last tick
            self.lines_at_tick = lines
            self.last_input = self.listened()
            engine.drain()
        else:
            silence_ms = self.silence_ms()
            if silence_ms >= self.idle_ms:
                engine.advance_idle(silence_ms)
        return time.perf_counter() - self.last_checkpoint >= self.every_seconds

    def silence_ms(self) -> int:
        """Milliseconds of silence since the last input was seen, on the source's clock."""
        return int((self.listened() - self.last_input) * 1000)

    def checkpoint_due(self, lines: int) -> bool:
        """Whether a checkpoint is due at ``lines``, by count or by time."""
        return (lines >= self.next_checkpoint
                or time.perf_counter() - self.last_checkpoint >= self.every_seconds)

    def checkpointed(self, lines: int) -> None:
        """A checkpoint was just saved at ``lines``."""
        self.last_checkpoint = time.perf_counter()
        self.next_checkpoint = lines + self.every_events
