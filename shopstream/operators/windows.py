"""Tumbling event-time windows shared by the windowed statistics operators.

Windows are aligned on the epoch: ``[k * size, (k + 1) * size)``. A window closes with an
event-time timer at its last millisecond, ``end - 1``, which fires once every order up to
and including that millisecond has been seen (at equal times events come before timers).

Windows without orders have no state and no timer; they are emitted, with zeros, when the
next window that had orders closes. That way empty windows appear only *between* windows
with orders, and the end of input (where every timer fires) never produces an endless
trail of empty windows.

Examples
--------
>>> window_start(125_000, 60_000)
120000
>>> list(empty_windows(60_000, 240_000, 60_000, max_windows=10))
[60000, 120000, 180000]
>>> list(empty_windows(None, 240_000, 60_000, max_windows=10))
[]
>>> list(empty_windows(0, 240_000, 60_000, max_windows=2))
[]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shopstream.state import Context, MapState

__all__ = ["empty_windows", "open_window", "take_closing", "window_start"]

T = TypeVar("T")

def window_start(timestamp_ms: int, size_ms: int) -> int:
    """Start of the window of ``size_ms`` that holds ``timestamp_ms``."""
    return timestamp_ms - timestamp_ms % size_ms


def empty_windows(last_end_ms: int | None, start_ms: int, size_ms: int,
                  max_windows: int) -> range:
    """Starts of the windows between the last emitted one (ending at ``last_end_ms``) and
    the window starting at ``start_ms``.

    Nothing before the first window (``last_end_ms`` is ``None``), and nothing when the gap
    holds more than ``max_windows`` windows: a long silence (a shop closed overnight, a
    stray timestamp from another year) is skipped rather than flooding the stream.
    """
    if last_end_ms is None or (start_ms - last_end_ms) // size_ms > max_windows:
        return range(0)
    return range(last_end_ms, start_ms, size_ms)


def open_window(ctx: Context, open_windows: MapState[int, T], closed_end_ms: int | None,
                size_ms: int, new: Callable[[], T]) -> tuple[int, T] | None:
    """``(start, totals)`` of the window holding ``ctx.timestamp_ms``, created (with its
    closing timer) when new; ``None`` when that window was already emitted.

    An already-emitted window only receives input the embedded runner diverts to
    ``late-events`` first; other runners must do the same. The caller puts ``totals`` back.
    """
    start = window_start(ctx.timestamp_ms, size_ms)
    if closed_end_ms is not None and start < closed_end_ms:
        return None
    totals = open_windows.get(start)
    if totals is None:
        totals = new()
        ctx.register_event_timer(start + size_ms - 1)
    return start, totals


def take_closing(open_windows: MapState[int, T], timer_ms: int,
                 size_ms: int) -> tuple[int, T] | None:
    """Remove and return ``(start, totals)`` of the window whose closing timer is
    ``timer_ms`` (its last millisecond), or ``None`` when that window holds nothing."""
    start = timer_ms + 1 - size_ms
    totals = open_windows.get(start)
    if totals is None:
        return None
    open_windows.remove(start)
    return start, totals
