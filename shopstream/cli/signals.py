"""Stopping an unbounded run cleanly: SIGINT / SIGTERM end the source, not the process.

The runner then takes its last checkpoint and the source acknowledges what it covers
(Kafka offsets, a replication slot). A second signal interrupts at once (for instance
while waiting for a server that does not answer).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

__all__ = ["stop_on_signals"]


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on the first SIGINT or SIGTERM inside the block; raise
    :class:`KeyboardInterrupt` on the second."""
    requested: list[bool] = []

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if requested:
            raise KeyboardInterrupt
        requested.append(True)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
