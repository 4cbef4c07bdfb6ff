"""The pace of an embedded run: when it checkpoints (every so many lines or seconds) and
when an unbounded source's silence lets event time follow the clock.

Examples
--------
>>> pace = Pace(0.0, lines=0, every_events=100, every_seconds=1e9, idle_ms=5_000)
>>> pace.checkpoint_due(99), pace.checkpoint_due(100)
(False, True)
>>> pace.checkpointed(100); pace.checkpoint_due(150)
False
"""

from __future__ import annotations

import time

from shopstream.runners.embedded.engine import Engine

__all__ = ["Pace"]


class Pace:
    """When a run checkpoints and when an unbounded source's silence moves event time:
    consulted every few thousand lines and on idle ticks, never per line."""

    def __init__(self, now: float, lines: int, every_events: int, every_seconds: float,
                 idle_ms: int) -> None:
        self.started = self.last_checkpoint = self.last_input = now
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.idle_s = idle_ms / 1000
        self.next_checkpoint = lines + self.every_events
        self.lines_at_tick = lines

    def idle_tick(self, lines: int, engine: Engine) -> bool:
        """An idle tick at ``lines``: process what came since the last one, or, after
        ``idle_ms`` of silence, let event time follow the clock. Whether a checkpoint is
        due by time."""
        now = time.perf_counter()
        if lines != self.lines_at_tick:  # input came since the last tick
            self.lines_at_tick = lines
            self.last_input = now
            engine.drain()
        elif now - self.last_input >= self.idle_s:
            engine.advance_idle(int((now - self.last_input) * 1000))
        return now - self.last_checkpoint >= self.every_seconds

    def checkpoint_due(self, lines: int) -> bool:
        """Whether a checkpoint is due at ``lines``, by count or by time."""
        return (lines >= self.next_checkpoint
                or time.perf_counter() - self.last_checkpoint >= self.every_seconds)

    def checkpointed(self, lines: int) -> None:
        """A checkpoint was just saved at ``lines``."""
        self.last_checkpoint = time.perf_counter()
        self.next_checkpoint = lines + self.every_events
