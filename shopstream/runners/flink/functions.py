"""The PyFlink functions of a shopstream job: decoding, keyed stages, the file writer.

Records between functions are ``(timestamp_ms, record)`` pairs: the event time travels
with the record, so a downstream stage sees the time its upstream element or timer had
(as on the embedded runner), whatever timestamp Flink put on the stream record.

A keyed stage (one operator, or several fused) honours the contract the embedded runner
gives, on top of Flink's keyed state and event-time timers:

* a key's elements wait in keyed state until the watermark passes their time (one Flink
  timer at each element time wakes the key) and are handed over in event-time order;
* operator timers live in a per-key book beside the buffer; on a wake-up at ``t`` the key
  sees, in order, its elements at ``t`` (and, before each, its timers that are earlier)
  then its timers at or before ``t``. At equal times events come before timers, as on the
  embedded runner, and ``ctx.watermark_ms`` is ``t - 1`` for an element, ``t`` for a timer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec
from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, ProcessFunction
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from shopstream.errors import DecodeError, ShopstreamError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.model import CATALOG_KINDS
from shopstream.events.records import DeadLetter, LateEvent, Output
from shopstream.runners.flink.state import FlinkStageContext, flink_state
from shopstream.state.operator import KeyedOperator

__all__ = ["KEYED_TYPE", "SINK_TAG", "DecodeFunction", "JsonlWriter", "PlainDecodeFunction",
           "Route", "StageFunction",
           "stage_tag"]

_MIN = -(2**63)

#: Every output record: ``Row(stream, json)`` (a Row, so that the Kafka sink's Java topic
#: selector can read the stream name from its first column).
SINK_TAG = OutputTag("shopstream-sink", Types.ROW([Types.STRING(), Types.STRING()]))


#: What a keyed stage reads: ``Row(key, (timestamp_ms, record))``, keyed on field 0 by
#: Flink's own Java key selector, so no Python operator runs just to compute keys.
KEYED_TYPE = Types.ROW([Types.STRING(), Types.PICKLED_BYTE_ARRAY()])

#: ``(stream, consumer stage index, consumer key function)``: where a stream's records go.
#: (Indexes, not tags: an OutputTag holding a Java type cannot be pickled with a function.)
Route = tuple[str, int, Callable[[Any], str]]


def stage_tag(index: int) -> OutputTag:
    """The side output carrying the keyed input of stage ``index`` from its producers."""
    return OutputTag(f"stage-{index}", KEYED_TYPE)


def _routes(routes: tuple[Route, ...]) -> dict[str, tuple[tuple[OutputTag, Any], ...]]:
    table: dict[str, list[tuple[OutputTag, Any]]] = {}
    for stream, index, key_by in routes:
        table.setdefault(stream, []).append((stage_tag(index), key_by))
    return {stream: tuple(targets) for stream, targets in table.items()}


class DecodeFunction(KeyedProcessFunction):  # type: ignore[misc]
    """Lines to ``(timestamp_ms, event)``; parallelism 1, in file order, on one constant
    key so that its progress (byte offset, newest time, watermark) is keyed state that
    checkpoints hold: a restored job goes on counting offsets and late events where the
    checkpoint left them.

    Bad lines go to ``dead-letter`` (with the byte offset after the line, as the embedded
    runner counts it), catalog changes to ``catalog-changes`` (they never move the
    watermark), and events at or behind the embedded runner's watermark
    (``max_timestamp - bound - 1``) to ``late-events``: the same events the embedded runner
    calls late. What passes is never late for Flink, whose watermark lags this one.
    """

    keyed = True

    def __init__(self, origin: str, bound_ms: int, sinks: frozenset[str],
                 key_by: Callable[[Any], str], routes: tuple[Route, ...],
                 limits: InputLimits | None = None) -> None:
        self.limits = limits
        self.origin = origin
        self.bound_ms = bound_ms
        self.sinks = sinks
        self.key_by = key_by
        self.routes = routes

    def open(self, runtime_context: Any) -> None:
        self._decode = EventDecoder(self.limits).decode
        self._encode = msgspec.json.Encoder().encode
        self._progress: Any = runtime_context.get_state(ValueStateDescriptor(
            "shopstream.decoder", Types.PICKLED_BYTE_ARRAY())) if self.keyed else None
        self._loaded = self._progress is None
        self._offset = 0
        self._max = _MIN
        self._watermark = _MIN
        self._others = tuple((stage_tag(i), key_by) for _, i, key_by in self.routes)

    def process_element(self, value: str, ctx: Any) -> Iterator[Any]:
        if not self._loaded:
            saved = self._progress.value()
            if saved:
                self._offset, self._max, self._watermark = saved
            self._loaded = True
        raw = value.encode()
        self._offset += len(raw) + 1
        if self._progress is None:
            yield from self._decode_line(raw)
            return
        try:
            yield from self._decode_line(raw)
        finally:
            self._progress.update((self._offset, self._max, self._watermark))

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        # The decoder sets no timers; PyFlink still looks this method up with checkpoints.
        return iter(())

    def _decode_line(self, raw: bytes) -> Iterator[Any]:
        raw = raw.strip()
        if not raw:
            return
        try:
            event = self._decode(raw)
        except DecodeError as exc:
            letter = DeadLetter.of_bytes(exc.stage, str(exc), raw, self.origin, self._offset)
            yield SINK_TAG, Row(streams.DEAD_LETTER, self._encode(letter).decode())
            return
        ts = event.timestamp_ms
        if event.event_type in CATALOG_KINDS:
            if streams.CATALOG_CHANGES in self.sinks:
                yield SINK_TAG, Row(streams.CATALOG_CHANGES, self._encode(event).decode())
            return
        mark = self._watermark
        if ts <= mark:
            late = LateEvent(event, mark, mark - ts + 1)
            yield SINK_TAG, Row(streams.LATE_EVENTS, self._encode(late).decode())
            return
        if ts > self._max:
            self._max = ts
            self._watermark = max(mark, ts - self.bound_ms - 1)
        pair = (ts, event)
        # The main output (keyed by the first events stage's key, with its time for the
        # watermark) feeds every events stage with that key function.
        yield Row(self.key_by(event), pair), ts
        for tag, key_by in self._others:
            yield tag, Row(key_by(event), pair)


class PlainDecodeFunction(ProcessFunction):  # type: ignore[misc]
    """:class:`DecodeFunction` without keyed state, for jobs without checkpoints: it needs
    no Python key selector in front of it (one Python call less per line)."""

    keyed = False
    __init__ = DecodeFunction.__init__
    open = DecodeFunction.open
    process_element = DecodeFunction.process_element
    _decode_line = DecodeFunction._decode_line


class StageFunction(KeyedProcessFunction):  # type: ignore[misc]
    """Keyed stages that read the same streams with the same key, fused in one Flink
    operator (fewer Python calls per record); see the module docstring for the order.

    Each operator's state is named ``<operator>.<state>``; ``routes`` send streams to later
    stages (keyed for them, on :func:`stage_tag`), ``sinks`` are the streams written to
    files (sent on :data:`SINK_TAG` as JSON).
    """

    def __init__(self, operators: tuple[KeyedOperator[Any], ...], routes: tuple[Route, ...],
                 sinks: frozenset[str], upstream: frozenset[str]) -> None:
        self.operators = operators
        self.routes = routes
        self.sinks = sinks
        self.upstream = upstream

    def open(self, runtime_context: Any) -> None:
        pickled = Types.PICKLED_BYTE_ARRAY()
        self._pending = runtime_context.get_list_state(
            ListStateDescriptor("shopstream.pending", pickled))
        self._book_state = runtime_context.get_state(
            ValueStateDescriptor("shopstream.timers", pickled))
        self._contexts = []
        for index, operator in enumerate(self.operators):
            ctx = FlinkStageContext(_state_factory(runtime_context, operator.name),
                                    _book_register(self, index), _book_delete(self, index))
            for descriptor in operator.state_descriptors:
                ctx.state(descriptor)
            self._contexts.append(ctx)
        self._steps = tuple(zip(self._contexts, self.operators, strict=True))
        self._targets = _routes(self.routes)
        self._encode = msgspec.json.Encoder().encode
        self._book: set[tuple[int, int]] = set()
        self._service: Any = None

    def process_element(self, value: tuple[int, Any], ctx: Any) -> None:
        # Flink hands over the record of Row(key, record) (see KEYED_TYPE).
        self._pending.add(value)
        ctx.timer_service().register_event_time_timer(value[0])

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        self._service = ctx.timer_service()
        saved = self._book_state.value()
        before = set(saved) if saved else set()
        book = self._book = set(before)
        key = ctx.get_current_key()
        pending = self._pending.get()
        due: list[tuple[int, Any]] = []
        if pending:
            rest: list[tuple[int, Any]] = []
            for item in pending:
                (due if item[0] <= timestamp else rest).append(item)
            if due:
                if rest:
                    self._pending.update(rest)
                else:
                    self._pending.clear()
                due.sort(key=_time)
        for ts, record in due:
            while book and min(book)[0] < ts:
                yield from self._fire(min(book), key)
            for sctx, operator in self._steps:
                sctx.key = key
                sctx.timestamp_ms = ts
                sctx.watermark_ms = ts - 1
                outs = operator.process_element(record, sctx)
                if outs:
                    yield from self._route(outs, ts, operator)
        while book and min(book)[0] <= timestamp:
            yield from self._fire(min(book), key)
        if book != before:
            if book:
                self._book_state.update(sorted(book))
            else:
                self._book_state.clear()

    def _fire(self, timer: tuple[int, int], key: str) -> Iterator[Any]:
        self._book.discard(timer)
        at, index = timer
        sctx, operator = self._steps[index]
        sctx.key = key
        sctx.timestamp_ms = at
        sctx.watermark_ms = at
        yield from self._route(operator.on_timer(at, sctx), at, operator)

    def _route(self, outs: Iterable[Output], ts: int,
               operator: KeyedOperator[Any]) -> Iterator[Any]:
        for out in outs:
            stream = out.stream
            if stream in self.sinks:
                yield SINK_TAG, Row(stream, self._encode(out.record).decode())
            targets = self._targets.get(stream)
            if targets is not None:
                record = out.record
                pair = (ts, record)
                for tag, key_by in targets:
                    yield tag, Row(key_by(record), pair)
            elif stream in self.upstream:
                msg = (f"operator {operator.name!r} (key {out.key!r}) emitted stream "
                       f"{stream!r}, which a stage declared before it consumes: on Flink a "
                       "stream's producers must be declared before its consumers")
                raise ShopstreamError(msg)


def _state_factory(runtime_context: Any, operator: str) -> Callable[[Any], Any]:
    def create(descriptor: Any) -> Any:
        return flink_state(runtime_context, descriptor, operator)
    return create


def _book_register(function: StageFunction, index: int) -> Callable[[int], None]:
    def register(timestamp_ms: int) -> None:
        timer = (timestamp_ms, index)
        if timer not in function._book:
            function._book.add(timer)
            # One Flink timer per time wakes the key; the book says which operator it is for.
            function._service.register_event_time_timer(timestamp_ms)
    return register


def _book_delete(function: StageFunction, index: int) -> Callable[[int], None]:
    def delete(timestamp_ms: int) -> None:
        # The Flink timer stays: it may also wake the key for an element or another operator.
        function._book.discard((timestamp_ms, index))
    return delete


def _time(item: tuple[int, Any]) -> int:
    return item[0]


class JsonlWriter(ProcessFunction):  # type: ignore[misc]
    """Parallelism 1: ``(stream, json)`` lines into ``<output_dir>/<stream>.jsonl``, with
    the same encoding as the embedded runner's :class:`~shopstream.connectors.files.JsonlSinks`.

    Files are appended to, line by line (each line reaches the OS before the next record,
    so everything before a checkpoint barrier is on disk when the checkpoint completes),
    and a torn last line of a killed run is cut off on open: a job restored from a
    checkpoint continues its files, repeating at most the records after the checkpoint.
    A fresh run starts from empty files (the runner removes them before submitting).
    """

    def __init__(self, output_dir: str, sink_streams: tuple[str, ...]) -> None:
        self.output_dir = output_dir
        self.sink_streams = sink_streams

    def open(self, runtime_context: Any) -> None:
        directory = Path(self.output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}
        for stream in self.sink_streams:
            path = directory / f"{stream}.jsonl"
            cut_torn_line(path)
            self._files[stream] = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def process_element(self, value: Row, ctx: Any) -> None:
        handle = self._files.get(value[0])
        if handle is not None:
            handle.write(value[1] + "\n")

    def close(self) -> None:
        for handle in getattr(self, "_files", {}).values():
            handle.close()


def cut_torn_line(path: Path) -> None:
    """Truncate ``path`` after its last newline (a write cut short by a kill)."""
    if not path.exists():
        return
    with open(path, "r+b") as handle:
        size = handle.seek(0, 2)
        end = size
        while end > 0:
            step = min(65_536, end)
            handle.seek(end - step)
            chunk = handle.read(step)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                end = end - step + cut + 1
                break
            end -= step
        if end != size:
            handle.truncate(end)
