"""Tumbling event-time windows shared by the windowed statistics operators.

Windows are aligned on the epoch: ``[k * size, (k + 1) * size)``. A window closes with an
event-time timer at its last millisecond, ``end - 1``, which fires once every order up to
and including that millisecond has been seen (at equal times events come before timers).

Windows without orders have no state and no timer; they are emitted, with zeros, when the
next window that had orders closes. That way empty windows appear only *between* windows
with orders, and the end of input (where every timer fires) never produces an endless
trail of empty windows.

:class:`WindowFold` is the skeleton every windowed statistic shares (the shape of
quix-streams' ``initialize`` / ``agg`` / ``result`` aggregators): it opens a window and its
closing timer, folds each element into the window's accumulator, and on the timer emits
the empty windows of the gap and then the window itself, remembering what the next window
is compared with. An operator says only how to start, grow and read one accumulator.

A global statistic runs in two phases so that it scales with parallelism (the contract's
"global work is two-phase"): :class:`PartialWindows`, keyed by key group, folds its share
of each window and at the window's closing timer sends the accumulator on as a
:class:`WindowPartial` (a key group without elements in a window sends nothing);
:class:`MergedWindows`, a :class:`WindowFold` on the one global key, combines the
partials of a window into one accumulator and emits on its own closing timer. The
partials of a window are stamped with the window's last millisecond, the time of that
timer, and every partial is in before it fires (at equal times elements come before
timers, and a runner passes the watermark on only after the partials' timers ran), so
the merged record leaves at the time the one-phase operator's does. ``combine`` must be
commutative and associative: the partials of a window arrive at one event time, in any
order.

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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from shopstream.events.records import Output
from shopstream.state import (
    Context,
    KeyedOperator,
    MapState,
    MapStateDescriptor,
    ValueStateDescriptor,
)

__all__ = ["MergedWindows", "PartialWindows", "WindowFold", "WindowFoldConfig", "WindowPartial",
           "empty_windows", "open_window", "take_closing", "window_start"]

T = TypeVar("T")
In = TypeVar("In")
Acc = TypeVar("Acc")


class WindowFoldConfig(Protocol):
    """What a :class:`WindowFold` reads of its operator's config."""

    @property
    def window_ms(self) -> int:
        """Size of the tumbling windows."""
        ...

    @property
    def max_empty_windows(self) -> int:
        """Longest run of element-less windows emitted (a longer gap is skipped)."""
        ...


class ClosedWindow(Protocol):
    """What a :class:`WindowFold` remembers of the last window emitted: at least its end."""

    @property
    def end_ms(self) -> int:
        """End (exclusive) of the last window emitted."""
        ...


Closed = TypeVar("Closed", bound=ClosedWindow)

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


class WindowFold(KeyedOperator[In], Generic[In, Acc, Closed]):
    """A statistic over tumbling event-time windows, written as a fold.

    A subclass sets ``stream`` (where records go), ``open_state`` (the open windows'
    accumulators by start), ``closed_state`` (what is kept of the last window emitted) and
    ``config`` (a :class:`WindowFoldConfig`), and defines:

    - :meth:`initialize` - the accumulator of a window with no element yet;
    - :meth:`agg` - fold one element into an accumulator (in place);
    - :meth:`result` - the record of a closing window and what is kept of it, given what
      was kept of the window emitted before (``None`` before the first).

    Windows are emitted once, in order, when the watermark passes their end; the windows
    between two that had elements are emitted as the result of a fresh accumulator (at
    most ``config.max_empty_windows`` of them). State: one accumulator per open window
    and one closed summary per key.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from shopstream.runners.embedded.harness import run_topology
    >>> from shopstream.topology import Stage, Topology
    >>> @dataclass
    ... class Count:
    ...     n: int = 0
    >>> @dataclass(frozen=True)
    ... class Last:
    ...     end_ms: int
    ...     n: int
    >>> @dataclass(frozen=True)
    ... class Config:
    ...     window_ms: int = 1_000
    ...     max_empty_windows: int = 5
    >>> class Counts(WindowFold[Any, Count, Last]):
    ...     name, stream, config = "counts", "counts", Config()
    ...     open_state = MapStateDescriptor[int, Count]("open")
    ...     closed_state = ValueStateDescriptor[Last]("closed")
    ...     state_descriptors = (open_state, closed_state)
    ...     def initialize(self): return Count()
    ...     def agg(self, acc, element): acc.n += 1
    ...     def result(self, start_ms, acc, closed):
    ...         before = 0 if closed is None else closed.n
    ...         return (start_ms, acc.n, acc.n - before), Last(start_ms + 1_000, acc.n)
    >>> from shopstream.events import EventType, ShopperEvent
    >>> events = [ShopperEvent(EventType.PAGE_VIEW, t, "s") for t in (100, 200, 3_500)]
    >>> topology = Topology((Stage(Counts(), ("events",), key_by=lambda e: "all"),),
    ...                     sink_streams=("counts",))
    >>> [out.record for out in run_topology(topology, events)]
    [(0, 2, 2), (1000, 0, -2), (2000, 0, 0), (3000, 1, 1)]
    """

    stream: ClassVar[str]
    open_state: ClassVar[MapStateDescriptor[int, Any]]
    closed_state: ClassVar[ValueStateDescriptor[Any]]
    config: WindowFoldConfig

    def initialize(self) -> Acc:
        """The accumulator of a window that has no element yet."""
        raise NotImplementedError

    def agg(self, acc: Acc, element: In) -> None:
        """Fold ``element`` into ``acc`` (in place)."""
        raise NotImplementedError

    def result(self, start_ms: int, acc: Acc, closed: Closed | None) -> tuple[Any, Closed]:
        """The record of the window starting at ``start_ms`` and what is kept of it."""
        raise NotImplementedError

    def process_element(self, element: In, ctx: Context) -> Iterable[Output]:
        closed: Closed | None = ctx.state(self.closed_state).value()
        windows: MapState[int, Acc] = ctx.state(self.open_state)
        found = open_window(ctx, windows, None if closed is None else closed.end_ms,
                            self.config.window_ms, self.initialize)
        if found is None:
            return ()
        start, acc = found
        self.agg(acc, element)
        windows.put(start, acc)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        size = self.config.window_ms
        windows: MapState[int, Acc] = ctx.state(self.open_state)
        closing = take_closing(windows, timestamp_ms, size)
        if closing is None:
            return ()
        start, acc = closing
        closed_state = ctx.state(self.closed_state)
        closed: Closed | None = closed_state.value()
        out = []
        for empty in empty_windows(None if closed is None else closed.end_ms, start, size,
                                   self.config.max_empty_windows):
            record, closed = self.result(empty, self.initialize(), closed)
            out.append(Output(self.stream, ctx.key, record))
        record, kept = self.result(start, acc, closed)
        out.append(Output(self.stream, ctx.key, record))
        closed_state.update(kept)
        return out


@dataclass(frozen=True)
class WindowPartial(Generic[Acc]):
    """One key group's accumulator of the window starting at ``start_ms``."""

    start_ms: int
    acc: Acc


class PartialWindows(KeyedOperator[In], Generic[In, Acc]):
    """Phase one of a two-phase window statistic: one key group's share of each window.

    A subclass sets ``stream`` (where partials go), ``open_state`` and ``config`` and
    defines :meth:`initialize` and :meth:`agg` as for :class:`WindowFold`. At a window's
    closing timer (its last millisecond) the accumulator leaves as a
    :class:`WindowPartial` on the key group's key, and the key group forgets it. State:
    the accumulators of the open windows only (those the watermark has not passed).
    """

    stream: ClassVar[str]
    open_state: ClassVar[MapStateDescriptor[int, Any]]
    config: WindowFoldConfig

    def initialize(self) -> Acc:
        """The accumulator of a window that has no element yet."""
        raise NotImplementedError

    def agg(self, acc: Acc, element: In) -> None:
        """Fold ``element`` into ``acc`` (in place)."""
        raise NotImplementedError

    def process_element(self, element: In, ctx: Context) -> Iterable[Output]:
        windows: MapState[int, Acc] = ctx.state(self.open_state)
        found = open_window(ctx, windows, None, self.config.window_ms, self.initialize)
        if found is not None:  # never None: there is no emitted window to compare with
            start, acc = found
            self.agg(acc, element)
            windows.put(start, acc)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        closing = take_closing(ctx.state(self.open_state), timestamp_ms, self.config.window_ms)
        if closing is None:
            return ()
        return (Output(self.stream, ctx.key, WindowPartial(*closing)),)


class MergedWindows(WindowFold[WindowPartial[Acc], Acc, Closed]):
    """Phase two of a two-phase window statistic: the partials of each window combined.

    A :class:`WindowFold` whose elements are :class:`WindowPartial`; a subclass defines
    :meth:`initialize`, :meth:`result` and :meth:`combine` (commutative and associative,
    so the order in which the partials arrive does not matter).
    """

    def combine(self, acc: Acc, other: Acc) -> None:
        """Add the accumulator ``other`` into ``acc`` (in place)."""
        raise NotImplementedError

    def agg(self, acc: Acc, element: WindowPartial[Acc]) -> None:
        self.combine(acc, element.acc)

    def settled(self, acc: Acc) -> Acc | None:
        """``acc`` as this merge's own accumulator when it is an open window read from a
        one-phase checkpoint (not yet waited for its partials), else ``None``."""
        return None

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        windows: MapState[int, Acc] = ctx.state(self.open_state)
        start = timestamp_ms + 1 - self.config.window_ms
        acc = windows.get(start)
        plain = None if acc is None else self.settled(acc)
        if plain is None:
            return super().on_timer(timestamp_ms, ctx)
        # The one-phase stage's timer, registered before the checkpoint, may fire before
        # the partial stage's timers of the same time, whose partials belong in this
        # window: wait for them by firing again at the same time, after those.
        windows.put(start, plain)
        ctx.register_event_timer(timestamp_ms)
        return ()
