"""What the embedded runner reads from: the :class:`Source` contract.

A source yields raw event lines, each with the *position* just after it (a byte offset
for a file, partition offsets for Kafka, a WAL position for PostgreSQL). The runner saves
the position of the last line a checkpoint covers and, once that checkpoint is durable,
calls :meth:`Source.commit` with it, so a source that acknowledges its input (Kafka
offsets, a replication slot) does so only for input whose effects are safe: a crash
replays, it never loses.

A source that refuses a record itself (a Kafka partition's progress window: an event
far ahead of its partition's progress) yields a
:class:`~shopstream.events.time_window.Refusal` in its place: its bytes, the position
after it and the reason; the runner writes it to ``dead-letter`` (stage ``limit``), as it
does the refusals of a file's progress window, without decoding it.

An unbounded source yields ``None`` now and then while no input arrives (an *idle tick*):
the runner uses it to take time-based checkpoints and, after ``RunnerConfig.idle_ms`` of
silence, to move the watermark on with the wall clock so the last events of a quiet spell
still come out. A source that can tell silence of its input from time it could not
listen (a broker outage) has a ``listened_s()`` method, the seconds it spent waiting on
an input that answered: silence is then measured on that clock
(:class:`~shopstream.runners.embedded.pace.Pace`).

When the iterator ends, ``exhausted`` tells the runner whether the input is complete
(fire every timer, as at the end of a file) or the source was only stopped (checkpoint
and leave timers pending for a resume).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from shopstream.events.time_window import Refusal

__all__ = ["Source"]


class Source(Protocol):
    """An input of the embedded runner. See the module documentation."""

    @property
    def name(self) -> str:
        """Where the input comes from, as dead letters should name it."""
        ...

    @property
    def exhausted(self) -> bool:
        """After the iterator ended: ``True`` when the input is complete."""
        ...

    def read(self, position: Any | None) -> Iterator[tuple[bytes, Any] | Refusal | None]:
        """Lines from ``position`` (``None``: the beginning) with the position after each;
        a :class:`Refusal` for a line the source refused; ``None`` items are idle ticks."""
        ...

    def commit(self, position: Any) -> None:
        """A checkpoint covering everything up to ``position`` is durable."""
        ...

    def close(self) -> None:
        """Release connections; called once when the run ends."""
        ...
