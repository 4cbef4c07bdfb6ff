"""The public Python API: :class:`Pipeline` builds a topology, takes events and gives back
what each output stream received, on the runner you choose.

Events may be :class:`~shopstream.events.ShopperEvent` objects, dicts in the wire format
(camelCase, as in ``docs/events.md``), or JSON lines (``str`` or ``bytes``). Input that is
not a valid event goes to the ``dead-letter`` stream with the reason, as in
``shopstream run``.

Examples
--------
>>> from shopstream import Pipeline
>>> pipeline = Pipeline()
>>> pipeline.feed([
...     {"eventType": "ADD_TO_CART", "sessionId": "s1", "timestamp": 1700000000000,
...      "productId": "p1", "price": 9.5, "quantity": 2},
...     '{"eventType": "PURCHASE", "sessionId": "s1", "timestamp": 1700000001000}',
...     "{oops",
... ])
>>> result = pipeline.finish()
>>> [(b["status"], b["totalValue"]) for b in result.outputs("basket-completions")]
[('COMPLETED', 19.0)]
>>> result.outputs("dead-letter")[0]["reason"]
'JSON is malformed: object keys must be strings (byte 1)'
>>> result.counts()["basket-completions"], result.counts()["dead-letter"]
(1, 1)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from shopstream.errors import ConfigError, DecodeError
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.model import ShopperEvent
from shopstream.events.records import DeadLetter, Output
from shopstream.pipeline import PipelineConfig, default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.topology import Topology

__all__ = ["RUNNERS", "EventInput", "Pipeline", "PipelineResult"]

RUNNERS = ("embedded", "flink")
"""The runners :class:`Pipeline` can run on."""

EventInput = ShopperEvent | Mapping[str, Any] | str | bytes
"""What :meth:`Pipeline.feed` accepts per event."""

#: The ``source`` that dead letters of fed input name.
_ORIGIN = "<python>"


@dataclass(frozen=True)
class PipelineResult:
    """Every record each output stream received, in emit order.

    ``records`` maps a stream name to its records: the typed records (msgspec structs)
    on the embedded runner, dicts decoded from the output files on Flink.
    """

    records: Mapping[str, list[Any]] = field(default_factory=dict)

    def streams(self) -> tuple[str, ...]:
        """The names of the streams this result holds (also those that stayed empty)."""
        return tuple(self.records)

    def outputs(self, stream: str) -> list[dict[str, Any]]:
        """The records of ``stream`` as JSON-shaped dicts (camelCase keys), exactly as
        ``shopstream run`` writes them to ``<stream>.jsonl``."""
        encode = msgspec.json.encode
        decode = msgspec.json.decode
        return [r if isinstance(r, dict) else decode(encode(r)) for r in self._stream(stream)]

    def typed(self, stream: str) -> list[Any]:
        """The records of ``stream`` as the operators emitted them (embedded runner)."""
        return list(self._stream(stream))

    def counts(self) -> dict[str, int]:
        """Records per stream."""
        return {name: len(rows) for name, rows in self.records.items()}

    def _stream(self, stream: str) -> list[Any]:
        try:
            return self.records[stream]
        except KeyError:
            msg = (f"Pipeline: no output stream {stream!r}; this topology writes "
                   f"{sorted(self.records)}")
            raise ConfigError(msg) from None


class Pipeline:
    """A topology, the events fed to it, and the runner it runs on.

    Parameters
    ----------
    topology
        The operators and their wiring (:class:`~shopstream.topology.Topology`); default:
        :func:`~shopstream.pipeline.default_topology` of ``config``.
    config
        Configuration of the default topology (ignored when ``topology`` is given).
    runner
        ``"embedded"`` (default: in this process, events processed as they are fed) or
        ``"flink"`` (a PyFlink mini-cluster in a fresh interpreter when :meth:`finish` is
        called; needs ``pip install 'shopstream[flink]'`` and Java 17).
    out_of_orderness_ms
        How far behind the newest event an event may arrive and still count.
    limits
        What the decoder refuses (default :class:`~shopstream.events.limits.InputLimits`).

    Notes
    -----
    Memory: the embedded runner keeps every output record until :meth:`finish` (for
    unbounded input use ``shopstream run`` or
    :class:`~shopstream.runners.embedded.runner.EmbeddedRunner`, which write to files);
    operator state is bounded by each operator's configured caps. The Flink runner also
    keeps the fed lines in a temporary file.

    Examples
    --------
    A custom topology: one operator, keyed by session.

    >>> from shopstream.operators.baskets import BasketTracker
    >>> from shopstream.topology import Stage, Topology
    >>> from shopstream.events import EventType, ShopperEvent
    >>> only_baskets = Topology(
    ...     (Stage(BasketTracker(), inputs=("events",), key_by=lambda e: e.session_id),),
    ...     sink_streams=("abandoned-baskets",))
    >>> result = Pipeline(only_baskets).run(
    ...     [ShopperEvent(EventType.ADD_TO_CART, 1_000, "s", product_id="p", price=2.0)])
    >>> [r.status for r in result.typed("abandoned-baskets")]
    ['ABANDONED']
    >>> Pipeline(runner="spark")
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: Pipeline: runner must be 'embedded' or 'flink', got 'spark'
    """

    def __init__(self, topology: Topology | None = None, *,
                 config: PipelineConfig | None = None, runner: str = "embedded",
                 out_of_orderness_ms: int = 5_000,
                 limits: InputLimits | None = None) -> None:
        if runner not in RUNNERS:
            msg = f"Pipeline: runner must be 'embedded' or 'flink', got {runner!r}"
            raise ConfigError(msg)
        if out_of_orderness_ms < 0:
            msg = f"Pipeline: out_of_orderness_ms must be >= 0, got {out_of_orderness_ms!r}"
            raise ConfigError(msg)
        self.topology = topology if topology is not None else default_topology(config)
        self.runner = runner
        self.out_of_orderness_ms = out_of_orderness_ms
        self.limits = limits or InputLimits()
        # Fed events are history, not a live feed: no "too far ahead of now" check.
        self._decoder = EventDecoder(self.limits, clock=None)
        self._encoder = msgspec.json.Encoder()
        self._records: dict[str, list[Any]] = {
            s: [] for s in (*self.topology.sink_streams, streams.DEAD_LETTER,
                            streams.LATE_EVENTS)}
        self._fed = 0
        self._finished = False
        self._engine: Engine | None = None
        self._lines: Any = None  # the Flink runner's input file, opened on first feed
        if runner == "embedded":
            self._engine = Engine(self.topology, out_of_orderness_ms, self._collect)

    def feed(self, events: Iterable[EventInput]) -> None:
        """Process ``events`` (embedded) or queue them for :meth:`finish` (Flink).

        May be called many times before :meth:`finish`; outputs whose watermark has
        passed are already in :meth:`outputs` on the embedded runner.
        """
        if self._finished:
            msg = "Pipeline: feed() after finish(); make a new Pipeline"
            raise ConfigError(msg)
        for item in events:
            self._fed += 1
            if self._engine is None:
                self._queue(item)
                continue
            event = self._decode(item)
            if event is not None:
                self._engine.offer(event)
        if self._engine is not None:
            self._engine.drain()

    def outputs(self, stream: str) -> list[dict[str, Any]]:
        """What ``stream`` has received so far, as dicts (see
        :meth:`PipelineResult.outputs`)."""
        return PipelineResult(self._records).outputs(stream)

    def finish(self) -> PipelineResult:
        """End of input: fire every pending window and timer, return every output."""
        if not self._finished:
            self._finished = True
            if self._engine is not None:
                self._engine.finish()
            else:
                self._run_flink()
        return PipelineResult(self._records)

    def run(self, events: Iterable[EventInput]) -> PipelineResult:
        """:meth:`feed` then :meth:`finish`."""
        self.feed(events)
        return self.finish()

    def _collect(self, out: Output) -> None:
        rows = self._records.get(out.stream)
        if rows is not None:
            rows.append(out.record)

    def _decode(self, item: EventInput) -> ShopperEvent | None:
        if isinstance(item, ShopperEvent):
            return item
        raw = self._raw(item)
        try:
            return self._decoder.decode(raw)
        except DecodeError as exc:
            self._records[streams.DEAD_LETTER].append(DeadLetter.of_bytes(
                exc.stage, str(exc), self._decoder.redact(raw), _ORIGIN, self._fed))
            return None

    def _raw(self, item: EventInput) -> bytes:
        if isinstance(item, bytes):
            return item
        if isinstance(item, str):
            return item.encode()
        if isinstance(item, ShopperEvent | Mapping):
            return self._encoder.encode(item)
        msg = (f"Pipeline: an event must be a ShopperEvent, a dict or a JSON line, got "
               f"{type(item).__name__}")
        raise ConfigError(msg)

    def _queue(self, item: EventInput) -> None:
        if self._lines is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="shopstream-pipeline-")
            self._lines = open(Path(self._workdir.name) / "events.jsonl", "wb")  # noqa: SIM115
        line = self._raw(item).replace(b"\n", b" ")
        self._lines.write(line + b"\n")

    def _run_flink(self) -> None:
        from shopstream.runners.flink.runner import FlinkConfig, FlinkRunner

        if self._lines is None:  # nothing fed: nothing to run
            return
        self._lines.close()
        try:
            work = Path(self._workdir.name)
            config = FlinkConfig(out_of_orderness_ms=self.out_of_orderness_ms,
                                 limits=self.limits)
            summary = FlinkRunner(self.topology, work / "out", config).run(
                work / "events.jsonl", isolated=True)
            decoder = msgspec.json.Decoder()
            for stream, path in summary.files.items():
                file = Path(path)
                if stream in self._records and file.exists():
                    with open(file, "rb") as handle:
                        self._records[stream] = [decoder.decode(line) for line in handle
                                                 if line.strip()]
        finally:
            self._workdir.cleanup()
