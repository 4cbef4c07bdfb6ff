"""The PyFlink functions of a shopstream job around its stages: decoding and the file
writer (the stages are :mod:`~shopstream.runners.flink.stage` and
:mod:`~shopstream.runners.flink.broadcast`; the records between them are described in
:mod:`~shopstream.runners.flink.tags`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec
from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, ProcessFunction
from pyflink.datastream.state import ValueStateDescriptor

from shopstream.errors import DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.records import DeadLetter, LateEvent
from shopstream.runners.flink.stage import StageFunction
from shopstream.runners.flink.tags import (
    KEYED_TYPE,
    SINK_TAG,
    Route,
    encode_pair,
    events_tag,
    row,
    stage_tag,
)
from shopstream.topology import WatermarkPolicy

__all__ = ["KEYED_TYPE", "SINK_TAG", "DecodeFunction", "DecodeLogic", "JsonlWriter",
           "PlainDecodeFunction", "Route", "StageFunction", "stage_tag"]

_MIN = -(2**63)


class DecodeLogic:
    """Lines to ``(timestamp_ms, event)``; parallelism 1, in file order. As a
    :class:`DecodeFunction` (one constant key) its progress (byte offset, newest time,
    watermark) is keyed state that checkpoints hold: a restored job goes on counting
    offsets and late events where the checkpoint left them.

    Bad lines go to ``dead-letter`` (with the byte offset after the line, as the embedded
    runner counts it), and events at or behind the embedded runner's watermark
    (``max_timestamp - bound - 1``) to ``late-events``: the same events the embedded runner
    calls late. What passes is never late for Flink, whose watermark lags this one.

    Event types under a :class:`~shopstream.topology.WatermarkPolicy` (catalog changes:
    never late, never moving the watermark) take effect at ``max(t, watermark + 1)``; they
    go to their stream's sink, and, when stages read that stream (``forward``), on the main
    output as a reference record ``(effective_ms, event, stream)`` whose Flink timestamp
    never exceeds the newest event's (so it cannot move the watermark): the first stage
    group forwards it to the readers ahead of the watermark that follows it.
    """

    #: Whether the progress is keyed state (a :class:`DecodeFunction`).
    keyed = True

    def __init__(self, origin: str, bound_ms: int, sinks: frozenset[str],
                 key_by: Callable[[Any], str], routes: tuple[Route, ...],
                 limits: InputLimits | None = None,
                 policies: tuple[WatermarkPolicy, ...] = (),
                 forward: frozenset[str] = frozenset()) -> None:
        self.limits = limits
        self.origin = origin
        self.bound_ms = bound_ms
        self.sinks = sinks
        self.key_by = key_by
        self.routes = routes
        self.policies = policies
        self.forward = forward

    def open(self, runtime_context: Any) -> None:
        decoder = EventDecoder(self.limits)
        self._decode = decoder.decode
        # A dead letter keeps its line with the user id pseudonymised, as on the
        # embedded runner (when a pseudonymisation key is configured).
        self._redact = decoder.redact
        self._encode = msgspec.json.Encoder().encode
        self._progress: Any = runtime_context.get_state(ValueStateDescriptor(
            "shopstream.decoder", Types.PICKLED_BYTE_ARRAY())) if self.keyed else None
        self._loaded = self._progress is None
        self._offset = 0
        self._max = _MIN
        self._watermark = _MIN
        self._others: tuple[tuple[Any, Callable[[Any], str]], ...] = tuple(
            (events_tag(i), key_by) for _, i, key_by in self.routes if key_by is not None)
        self._reference = {kind: policy.stream for policy in self.policies
                           for kind in policy.kinds}

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

    def _decode_line(self, raw: bytes) -> Iterator[Any]:
        raw = raw.strip()
        if not raw:
            return
        try:
            event = self._decode(raw)
        except DecodeError as exc:
            letter = DeadLetter.of_bytes(exc.stage, str(exc), self._redact(raw), self.origin,
                                         self._offset)
            yield SINK_TAG, row(streams.DEAD_LETTER, self._encode(letter).decode())
            return
        ts = event.timestamp_ms
        mark = self._watermark
        reference = self._reference.get(event.event_type)
        if reference is not None:
            if reference in self.forward:
                # The stage that forwards it also writes it to its sink, if any.
                effective = max(ts, mark + 1)
                yield (row("", encode_pair(None, (effective, event, reference))),
                       min(effective, self._max))
            elif reference in self.sinks:
                yield SINK_TAG, row(reference, self._encode(event).decode())
            return
        if ts <= mark:
            late = LateEvent(event, mark, mark - ts + 1)
            yield SINK_TAG, row(streams.LATE_EVENTS, self._encode(late).decode())
            return
        if ts > self._max:
            self._max = ts
            self._watermark = max(mark, ts - self.bound_ms - 1)
        pair = encode_pair(ts, event)  # once for every reader (see tags)
        # The main output (keyed by the first events stage's key, with its time for the
        # watermark) feeds every events stage with that key function; the others get a
        # side output each, watermarked on their own.
        yield row(self.key_by(event), pair), ts
        for tag, key_by in self._others:
            yield tag, (row(key_by(event), pair), ts)


class DecodeFunction(DecodeLogic, KeyedProcessFunction):  # type: ignore[misc]
    """:class:`DecodeLogic` on one constant key, its progress in keyed state (for jobs
    with checkpoints)."""

    keyed = True

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        # The decoder sets no timers; PyFlink still looks this method up with checkpoints.
        return iter(())


class PlainDecodeFunction(DecodeLogic, ProcessFunction):  # type: ignore[misc]
    """:class:`DecodeLogic` without keyed state, for jobs without checkpoints: it needs
    no Python key selector in front of it (one Python call less per line)."""

    keyed = False


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
