"""A keyed stage on Flink: the operators of one stage group in a KeyedProcessFunction.

A keyed stage (one operator, or several fused) honours the contract the embedded runner
gives, on top of Flink's keyed state and event-time timers:

* a key's elements wait in keyed state until the watermark passes their time (one Flink
  timer at each element time wakes the key) and are handed over in event-time order;
* operator timers live in a per-key book beside the buffer; on a wake-up at ``t`` the key
  sees, in order, its elements at ``t`` (and, before each, its timers that are earlier)
  then its timers at or before ``t``. At equal times events come before timers, as on the
  embedded runner, and ``ctx.watermark_ms`` is ``t - 1`` for an element, ``t`` for a timer;
* an operator whose stage declares ``event_time_order=False`` gets each element as it
  arrives instead (``ctx.watermark_ms`` is then Flink's current watermark); its timers
  still fire from the book as the watermark passes them;
* a reference record (``(effective_ms, record, stream)``, see
  :mod:`~shopstream.runners.flink.tags`) is forwarded at once to the stages reading
  ``stream``, never handed to this stage's operators.

The buffer is a Flink ``MapState`` from element time to the elements at that time, so a
wake-up at ``t`` reads and removes exactly the elements due at ``t`` (Flink fires a key's
timers in time order, so the earlier ones went at their own wake-ups): a hot key (a global
stage sees every event) costs the same per element as any other, not a rewrite of all it
holds. Operator value state is cached unpickled and written once per Flink call (see
:class:`~shopstream.runners.flink.state.ValueCache`), the timer book too.

Cost per element: one read and one write of the buffer entry at its time, and one Flink
timer (none for arrival-order operators); per wake-up, one read and one removal of the
buffer entry at its time and a read of the timer book (bounded by the operator timers the
key holds).

A job nobody snapshots whose stage has no broadcast input wakes each key once per
watermark step instead (:meth:`StageLogic._release_until`): one Flink timer per key at
its earliest held time, and a wake-up hands over everything the key holds up to the
watermark, in the same order. Every Flink timer and wake-up is a crossing between Java
and Python, which costs more than most operators do with an element. A broadcast stage
keeps a wake-up per element time: its updates are applied by time across all keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from shopstream.errors import ShopstreamError
from shopstream.events.records import Output
from shopstream.runners.flink.buffers import FlinkBuffer, PythonBuffer
from shopstream.runners.flink.state import FlinkStageContext, KeyCursor, ValueCache, flink_state
from shopstream.runners.flink.tags import (
    SINK_TAG,
    Route,
    broadcast_tag,
    decode_pair,
    encode_pair,
    row,
    stage_tag,
)
from shopstream.state.operator import KeyedOperator

__all__ = ["FlinkBuffer", "PythonBuffer", "StageFunction", "StageLogic", "routes_table"]

_MIN = -(2**63)


def routes_table(routes: tuple[Route, ...], by_name: bool = False
                 ) -> dict[str, tuple[tuple[Any, Any], ...]]:
    """``stream -> ((tag, key function or None), ...)``; tags as their names when
    ``by_name`` (outputs that travel on the main output to a demultiplexer)."""
    table: dict[str, list[tuple[Any, Any]]] = {}
    for stream, index, key_by in routes:
        tag = stage_tag(index) if key_by is not None else broadcast_tag(index)
        table.setdefault(stream, []).append((tag.tag_id if by_name else tag, key_by))
    return {stream: tuple(targets) for stream, targets in table.items()}


class StageLogic:
    """What :class:`StageFunction` does, without its Flink base class: the keyed broadcast
    function (:class:`~shopstream.runners.flink.broadcast.BroadcastStageFunction`) is the
    same stage on another base."""

    #: Whether outputs go on the main output as ``(tag name, record)`` (for a demultiplexer).
    by_name = False

    def __init__(self, operators: tuple[KeyedOperator[Any], ...], routes: tuple[Route, ...],
                 sinks: frozenset[str], upstream: frozenset[str],
                 ordered: tuple[bool, ...] | None = None, held_keys: int = 0,
                 key_by: Callable[[Any], str] | None = None) -> None:
        self.operators = operators
        self.held_keys = held_keys
        self.key_by = key_by
        self.routes = routes
        self.sinks = sinks
        self.upstream = upstream
        self.ordered = ordered if ordered is not None else (True,) * len(operators)

    def open(self, runtime_context: Any) -> None:
        pickled = Types.PICKLED_BYTE_ARRAY()
        self._cursor = cursor = KeyCursor(self.held_keys)
        self._buffer: FlinkBuffer | PythonBuffer = (
            PythonBuffer(self.key_by) if self.held_keys > 0 and self.key_by is not None
            else FlinkBuffer(runtime_context.get_map_state(
                MapStateDescriptor("shopstream.pending-at", Types.STRING(), pickled))))
        self._book_state = ValueCache(runtime_context.get_state(
            ValueStateDescriptor("shopstream.timers", pickled)), cursor)
        self._contexts = []
        for index, operator in enumerate(self.operators):
            ctx = FlinkStageContext(_state_factory(runtime_context, operator.name, cursor),
                                    _book_register(self, index), _book_delete(self, index))
            for descriptor in operator.state_descriptors:
                ctx.state(descriptor)
            self._contexts.append(ctx)
        self._steps = tuple(zip(self._contexts, self.operators, strict=True))
        self._in_order = tuple(s for s, o in zip(self._steps, self.ordered, strict=True) if o)
        self._on_arrival = tuple(
            s for s, o in zip(self._steps, self.ordered, strict=True) if not o)
        self._targets = routes_table(self.routes, self.by_name)
        self._sink = SINK_TAG.tag_id if self.by_name else SINK_TAG
        self._encode = msgspec.json.Encoder().encode
        self._book: set[tuple[int, int]] = set()
        self._service: Any = None
        #: Called with a time before anything at that time is processed (broadcasts).
        self._catch_up: Callable[[int], None] | None = None
        #: Whether a wake-up releases everything up to the watermark (see _release_until);
        #: a broadcast stage turns it off.
        self._batched = isinstance(self._buffer, PythonBuffer)
        self._armed: dict[str, int] = {}
        self._mark = _MIN

    def process_element(self, data: bytes, ctx: Any) -> Iterator[Any] | None:
        # Flink hands over the record of Row(key, record) (see KEYED_TYPE).
        value = decode_pair(data)
        if len(value) == 3:
            return self._forward(value)
        if self._on_arrival:
            return self._arrive(value, ctx)
        self._hold(value, ctx.timer_service())
        return None

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        service = self._service = ctx.timer_service()
        if self._batched:
            return self._release_until(service.current_watermark(), ctx.get_current_key())
        return self._release(timestamp, ctx.get_current_key())

    def _hold(self, value: tuple[Any, ...], service: Any) -> None:
        """Buffer ``value`` and see that a Flink timer wakes its key by its time: one at
        each element time, or, batched, one per key at its earliest held time."""
        key = self._buffer.hold(value)
        at = value[0]
        if self._batched:
            armed = self._armed.get(key)  # type: ignore[arg-type]
            if armed is not None and armed <= at:
                return
            self._armed[key] = at  # type: ignore[index]
        service.register_event_time_timer(at)

    def _forward(self, value: tuple[Any, ...]) -> Iterator[Any]:
        ts, record, stream = value
        return self._route((Output(stream, "", record),), ts, None)

    def _arrive(self, value: tuple[Any, ...], ctx: Any) -> Iterator[Any]:
        service = self._service = ctx.timer_service()
        if self._in_order:
            self._hold(value, service)
        key = self._cursor.key = ctx.get_current_key()
        saved = self._book_state.value()
        before = set(saved) if saved else set()
        book = self._book = set(before)
        ts, record = value
        mark = service.current_watermark()
        if self._catch_up is not None:
            self._catch_up(ts)
        for sctx, operator in self._on_arrival:
            sctx.key = key
            sctx.timestamp_ms = ts
            sctx.watermark_ms = mark
            outs = operator.process_element(record, sctx)
            if outs:
                yield from self._route(outs, ts, operator)
        self._save_book(book, before)
        self._cursor.flush()

    def _release(self, timestamp: int, key: str) -> Iterator[Any]:
        self._cursor.key = key
        saved = self._book_state.value()
        before = set(saved) if saved else set()
        book = self._book = set(before)
        # Elements at earlier times left at their own wake-ups (Flink fires a key's timers
        # in time order); a wake-up for an operator timer finds none.
        due = self._buffer.take(key, timestamp) if self._in_order else []
        for ts, record in due:
            while book and min(book)[0] < ts:
                yield from self._fire(min(book), key)
            yield from self._element(ts, record, key)
        while book and min(book)[0] <= timestamp:
            yield from self._fire(min(book), key)
        self._save_book(book, before)
        self._cursor.flush()

    def _release_until(self, mark: int, key: str) -> Iterator[Any]:
        """A batched wake-up (a job nobody snapshots, no broadcast input): the watermark
        is at ``mark``, so everything ``key`` holds at or before it is due and nothing
        more will come: its elements and timers, in the order the per-time wake-ups of
        :meth:`_release` give them, in one Flink call; then one timer at the key's
        earliest held time. Flink timers at times this call took care of still fire and
        find nothing. Cost: one Flink call and one timer per key per watermark step,
        not per element time (bound on what it holds: as :class:`PythonBuffer`)."""
        self._cursor.key = key
        saved = self._book_state.value()
        before = set(saved) if saved else set()
        book = self._book = set(before)
        # Operator timers set now at or before the mark fire in this call (no Flink timer).
        self._mark = mark
        buffer: PythonBuffer = self._buffer  # type: ignore[assignment]
        for at, elements in buffer.take_until(key, mark):
            while book and min(book)[0] < at:
                yield from self._fire(min(book), key)
            for ts, record in elements:
                yield from self._element(ts, record, key)
        while book and min(book)[0] <= mark:
            yield from self._fire(min(book), key)
        self._mark = _MIN
        self._armed.pop(key, None)
        later = buffer.earliest(key)
        if later is not None:
            self._armed[key] = later
            self._service.register_event_time_timer(later)
        self._save_book(book, before)
        self._cursor.flush()

    def _element(self, ts: int, record: Any, key: str) -> Iterator[Any]:
        """Hand an element at ``ts`` to the event-time operators."""
        if self._catch_up is not None:
            self._catch_up(ts)
        for sctx, operator in self._in_order:
            sctx.key = key
            sctx.timestamp_ms = ts
            sctx.watermark_ms = ts - 1
            outs = operator.process_element(record, sctx)
            if outs:
                yield from self._route(outs, ts, operator)

    def _save_book(self, book: set[tuple[int, int]], before: set[tuple[int, int]]) -> None:
        if book != before:
            if book:
                self._book_state.update(sorted(book))
            else:
                self._book_state.clear()

    def _fire(self, timer: tuple[int, int], key: str) -> Iterator[Any]:
        self._book.discard(timer)
        at, index = timer
        if self._catch_up is not None:
            self._catch_up(at)
        sctx, operator = self._steps[index]
        sctx.key = key
        sctx.timestamp_ms = at
        sctx.watermark_ms = at
        yield from self._route(operator.on_timer(at, sctx), at, operator)

    def _route(self, outs: Iterable[Output], ts: int,
               operator: KeyedOperator[Any] | None) -> Iterator[Any]:
        for out in outs:
            stream = out.stream
            if stream in self.sinks:
                yield self._sink, row(stream, self._encode(out.record).decode())
            targets = self._targets.get(stream)
            if targets is not None:
                record = out.record
                pair = (ts, record)
                encoded = None
                for tag, key_by in targets:
                    if key_by is None:
                        yield tag, pair
                    else:
                        if encoded is None:
                            encoded = encode_pair(ts, record)
                        yield tag, row(key_by(record), encoded)
            elif stream in self.upstream:
                name = operator.name if operator is not None else "decoder"
                msg = (f"operator {name!r} (key {out.key!r}) emitted stream "
                       f"{stream!r}, which a stage declared before it consumes: on Flink a "
                       "stream's producers must be declared before its consumers")
                raise ShopstreamError(msg)


class StageFunction(StageLogic, KeyedProcessFunction):  # type: ignore[misc]
    """Keyed stages that read the same streams with the same key, fused in one Flink
    operator (fewer Python calls per record); see the module docstring for the order.

    Each operator's state is named ``<operator>.<state>``; ``routes`` send streams to later
    stages (keyed for them on :func:`stage_tag`, or as pairs on :func:`broadcast_tag`),
    ``sinks`` are the streams written to files (sent on :data:`SINK_TAG` as JSON);
    ``ordered[i]`` says whether operator ``i`` needs event-time order (default: all do);
    ``held_keys``: see :class:`~shopstream.runners.flink.state.KeyCursor` (only for a job
    nobody snapshots); with it and the stage's ``key_by`` (the key function its producers
    partition by), the per-key buffer lives in Python too, not in Flink state (bound: the
    elements within the watermark bound, as in Flink state).
    """


def _state_factory(runtime_context: Any, operator: str,
                   cursor: KeyCursor) -> Callable[[Any], Any]:
    def create(descriptor: Any) -> Any:
        return flink_state(runtime_context, descriptor, operator, cursor)
    return create


def _book_register(function: StageLogic, index: int) -> Callable[[int], None]:
    def register(timestamp_ms: int) -> None:
        timer = (timestamp_ms, index)
        if timer not in function._book:
            function._book.add(timer)
            # One Flink timer per time wakes the key; the book says which operator it is
            # for. (A batched wake-up fires the timers up to its watermark itself.)
            if timestamp_ms > function._mark:
                function._service.register_event_time_timer(timestamp_ms)
    return register


def _book_delete(function: StageLogic, index: int) -> Callable[[int], None]:
    def delete(timestamp_ms: int) -> None:
        # The Flink timer stays: it may also wake the key for an element or another operator.
        function._book.discard((timestamp_ms, index))
    return delete

