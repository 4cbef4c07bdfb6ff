"""The embedded runner: one process, a source (a JSONL file by default), file sinks and
checkpoints.

A run decodes each line (bad ones go to ``dead-letter`` with the reason), hands events to
the :class:`~shopstream.runners.embedded.engine.Engine`, and every ``checkpoint_every_events``
events or ``checkpoint_every_seconds`` seconds snapshots engine state, timers, the source
offset and the sink file sizes together. ``resume`` continues from that snapshot: sink
files are cut back to the checkpointed sizes and the source is read from the checkpointed
offset, so a run killed at any moment and resumed writes exactly what an uninterrupted
run writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopstream.connectors.files import JsonlSinks, JsonlSource
from shopstream.errors import CheckpointError, ConfigError, DecodeError, require_positive
from shopstream.events import streams
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.records import DeadLetter, Output
from shopstream.events.time_window import ProgressWindow, Refusal
from shopstream.operators.windows import PartialWindows
from shopstream.runners.embedded.admission import Offer, admission, refuse
from shopstream.runners.embedded.checkpoint import CheckpointStore
from shopstream.runners.embedded.collector import fewer_collections
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.outputs import CheckpointedSink, Tap, also, fan_out
from shopstream.runners.embedded.pace import Pace
from shopstream.runners.embedded.source import Source
from shopstream.runners.embedded.summary import RunSummary, Tally
from shopstream.runners.embedded.trending_checkpoint import adopts_one_phase_trending
from shopstream.topology import Topology

# Tap, CheckpointedSink and RunSummary live in outputs.py and summary.py; they are
# re-exported here, where the CLI and the tests import them from.
__all__ = ["CheckpointedSink", "EmbeddedRunner", "RunSummary", "RunnerConfig", "Tap"]

# Buffered events are processed every 256 lines: one call instead of 256, same outputs.
_DRAIN_MASK = 255


@dataclass(frozen=True)
class RunnerConfig:
    """Settings of the embedded runner.

    Parameters
    ----------
    out_of_orderness_ms
        How far behind the newest event an event may arrive and still count (default 5 s).
    checkpoint_every_events, checkpoint_every_seconds
        A checkpoint is taken when either is reached (only with a checkpoint directory).
    idle_ms
        Wall time without input after which an unbounded source's watermark moves on
        with the clock (default 5 s), so windows close and timers fire in a quiet spell.
    """

    out_of_orderness_ms: int = 5_000
    checkpoint_every_events: int = 100_000
    checkpoint_every_seconds: float = 30.0
    idle_ms: int = 5_000

    def __post_init__(self) -> None:
        require_positive(self, "out_of_orderness_ms", allow_zero=True)
        require_positive(self, "checkpoint_every_events", "idle_ms", "checkpoint_every_seconds")


class EmbeddedRunner:
    """Runs a :class:`Topology` over a JSONL input into ``output_dir``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from shopstream.pipeline import default_topology
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "in.jsonl").write_text(
    ...     '{"eventType":"ADD_TO_CART","sessionId":"s","timestamp":1.7e12,"productId":"p"}\\n'
    ...     '{"eventType":"PURCHASE","sessionId":"s","timestamp":1700000000001}\\n'
    ...     'oops\\n')
    >>> summary = EmbeddedRunner(default_topology(), d / "out").run(d / "in.jsonl")
    >>> summary.events, summary.dead_letters, summary.outputs["basket-completions"]
    (2, 1, 1)
    """

    def __init__(self, topology: Topology, output_dir: str | Path,
                 config: RunnerConfig | None = None,
                 checkpoint_dir: str | Path | None = None,
                 taps: Sequence[Tap] = (), limits: InputLimits | None = None,
                 lake: CheckpointedSink | None = None) -> None:
        self.taps = tuple(taps)
        self.lake = lake
        self.topology = topology
        self.output_dir = Path(output_dir)
        self.config = config or RunnerConfig()
        self.checkpoints = CheckpointStore(checkpoint_dir) if checkpoint_dir else None
        self.limits = limits or InputLimits()
        self._decoder = EventDecoder(self.limits)
        #: The engine of the run in progress (or last run), for ``/metrics``.
        self.engine: Engine | None = None

    def run(self, input_path: str | Path | Source, resume: bool = False,
            progress: Callable[[Any], None] | None = None,
            source: Iterable[tuple[bytes, Any] | Refusal | None] | None = None,
            ) -> RunSummary:
        """Process the input to its end and return a :class:`RunSummary`.

        ``input_path`` is a JSONL file (``-`` for standard input) or any
        :class:`~shopstream.runners.embedded.source.Source` (Kafka, PostgreSQL...).
        ``progress`` is called now and then with the position reached (a byte offset for
        files). ``source`` replaces the reader (tests use it to inject failures); its
        positions must be those of the input.
        """
        snapshot = self._load(resume)
        position = snapshot["offset"] if snapshot else None
        # Open the input first: a missing file must not truncate earlier outputs.
        src: Source = (JsonlSource(input_path, max_line_bytes=self.limits.max_line_bytes)
                       if isinstance(input_path, (str, Path)) else input_path)
        reader = iter(source) if source is not None else src.read(position)
        sinks, emit = self._open_outputs(snapshot, resume)
        engine, engine_offer, tally = self._start_engine(emit, snapshot)
        current = _Run(engine, sinks, src, tally, emit, Pace(
            time.perf_counter(), tally.lines, self.config.checkpoint_every_events,
            self.config.checkpoint_every_seconds, self.config.idle_ms,
            getattr(src, "listened_s", None)))
        resumed_at = tally.lines
        offer, window = admission(engine, engine_offer, self.limits, self._decoder.redact,
                                  emit, src.name, tally, isinstance(src, JsonlSource))
        try:
            with fewer_collections():
                position = self._consume(current, reader, position, offer, window, progress)
                self._end_of_input(engine, engine_offer, window,
                                   source is not None or src.exhausted)
            if progress is not None:
                progress(position)
            self._checkpoint(current, tally.lines, position)
        finally:
            self._close(sinks, src)
        return self._summary(engine, tally, resumed_at, current.pace.started, sinks)

    def _consume(self, run: _Run, reader: Iterator[tuple[bytes, Any] | Refusal | None],
                 position: Any,
                 offer: Offer, window: ProgressWindow | None,
                 progress: Callable[[Any], None] | None) -> Any:
        """Decode and offer every line of ``reader``, checkpointing on the way; return the
        position reached."""
        engine, tally, pace = run.engine, run.tally, run.pace
        durable = self.checkpoints is not None
        # Progress and checkpoint checks run every `step` lines, not on every line.
        step = min(8192, self.config.checkpoint_every_events)
        lines = tally.lines
        next_check = lines + step
        decode = self._decoder.decode
        for item in reader:
            if item is None:  # an idle tick of an unbounded source
                if pace.idle_tick(lines, engine):
                    self._checkpoint(run, lines, position)
                continue
            if isinstance(item, Refusal):  # a record the source refused itself
                position = item.position
                lines += 1
                self._refused(run, item, lines)
            else:
                raw, position = item
                lines += 1
                try:
                    event = decode(raw)
                except DecodeError as exc:
                    self._undecodable(run, exc, raw,
                                      position if isinstance(position, int) else lines)
                else:
                    offer(event, raw, position)
            if not lines & _DRAIN_MASK:
                engine.drain()
            if lines >= next_check:
                next_check = lines + step
                if progress is not None:
                    progress(position)
                if durable and not (window and window.held) and pace.checkpoint_due(lines):
                    self._checkpoint(run, lines, position)
        tally.lines = lines
        return position

    def _undecodable(self, run: _Run, exc: DecodeError, raw: bytes, offset: int) -> None:
        """Send a line that does not decode to ``dead-letter``."""
        run.tally.dead_letters += 1
        origin = run.src.name
        run.emit(Output(streams.DEAD_LETTER, origin, DeadLetter.of_bytes(
            exc.stage, str(exc), self._decoder.redact(raw), origin, offset)))

    def _refused(self, run: _Run, refusal: Refusal, line: int) -> None:
        """Send a record its source refused (a Kafka partition's progress window) to
        ``dead-letter``, as a file's refusals go, numbered like an undecodable line."""
        position = refusal.position
        refuse([Refusal(self._decoder.redact(refusal.raw),
                        position if isinstance(position, int) else line, refusal.reason)],
               run.emit, run.src.name, run.tally)

    def _open_outputs(self, snapshot: dict[str, Any] | None, resume: bool,
                      ) -> tuple[JsonlSinks, Callable[[Output], None]]:
        """The output files (cut back to the snapshot's sizes), and the engine's emit
        function: the files, the taps that want each stream, then the lake."""
        sinks = JsonlSinks(self.output_dir, dict.fromkeys(self._sink_streams()),
                           positions=snapshot["sinks"] if snapshot else None)
        emit = fan_out(sinks.write, self._sink_streams(), self.taps)
        lake = self.lake
        if lake is not None:
            lake.start(snapshot.get("lake") if snapshot else None, resume,
                       self.checkpoints.directory if self.checkpoints else None)
            emit = also(emit, lake.write)
        return sinks, emit

    def _start_engine(self, emit: Callable[[Output], None], snapshot: dict[str, Any] | None,
                      ) -> tuple[Engine, Callable[[Any], None], Tally]:
        """The engine (restored from the snapshot), how events enter it (through the lake
        first when there is one), and the run's counts so far."""
        engine = Engine(self.topology, self.config.out_of_orderness_ms, emit)
        self.engine = engine
        lake = self.lake
        engine_offer = engine.offer if lake is None else also(lake.write_event, engine.offer)
        tally = Tally()
        if snapshot:
            engine.restore(snapshot["engine"])
            tally = Tally(**snapshot["tally"])
        return engine, engine_offer, tally

    @staticmethod
    def _end_of_input(engine: Engine, engine_offer: Callable[[Any], None],
                      window: ProgressWindow | None, complete: bool) -> None:
        """Admit what the progress window still holds; at the end of a complete input fire
        every timer, else (a stopped unbounded source) process what the watermark allows."""
        if window is not None:
            for event in window.finish():
                engine_offer(event)
        if complete:
            engine.finish()
        else:
            engine.drain()

    def _close(self, sinks: JsonlSinks, src: Source) -> None:
        sinks.close()
        if self.lake is not None:
            self.lake.close()
        for tap in self.taps:
            tap.close()
        src.close()

    def _sink_streams(self) -> tuple[str, ...]:
        return (*self.topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS)

    def _summary(self, engine: Engine, tally: Tally, resumed_at: int, started: float,
                 sinks: JsonlSinks) -> RunSummary:
        counts = engine.output_counts
        return RunSummary(
            lines=tally.lines,
            events=tally.lines - tally.dead_letters,
            dead_letters=tally.dead_letters,
            late_events=engine.late_events,
            sessions=counts.get(streams.SESSIONS_ENDED, 0),
            outputs={s: counts.get(s, 0) for s in self.topology.sink_streams}
            | {streams.DEAD_LETTER: tally.dead_letters, streams.LATE_EVENTS: engine.late_events},
            seconds=time.perf_counter() - started,
            output_dir=str(self.output_dir),
            resumed_at_line=resumed_at,
            checkpoints=tally.checkpoints,
            files={s: str(sinks.path(s)) for s in self._sink_streams()},
        )

    def _load(self, resume: bool) -> dict[str, Any] | None:
        if not resume:
            return None
        if self.checkpoints is None:
            msg = "--resume needs --checkpoint-dir"
            raise ConfigError(msg)
        snapshot = self.checkpoints.load()
        if snapshot is None:
            return None
        saved = tuple(snapshot["engine"]["stages"])
        if saved != self.topology.stage_names() and not _upgradable(saved, self.topology):
            msg = (f"checkpoint was taken with operators {list(saved)}, this pipeline has "
                   f"{list(self.topology.stage_names())}: start without --resume")
            raise CheckpointError(msg)
        return snapshot

    def _checkpoint(self, run: _Run, lines: int, position: Any) -> None:
        """Save a checkpoint at ``lines`` and ``position`` (nothing without a checkpoint
        directory), then let the source forget what it covers."""
        store = self.checkpoints
        if store is None:
            return
        # Taps deliver what the checkpoint covers before the source may forget it.
        for tap in self.taps:
            tap.flush()
        run.tally.lines = lines
        run.tally.checkpoints += 1
        store.save({
            "offset": position,
            "sinks": run.sinks.positions(),
            "engine": run.engine.snapshot(),
            "tally": asdict(run.tally),
            # The lake's files are durable before the checkpoint that names them is saved.
            "lake": self.lake.commit() if self.lake is not None else None,
        })
        if position is not None:
            run.src.commit(position)
        run.pace.checkpointed(lines)


@dataclass
class _Run:
    """What one run works with, built by :meth:`EmbeddedRunner.run`."""

    engine: Engine
    sinks: JsonlSinks
    src: Source
    tally: Tally
    emit: Callable[[Output], None]
    pace: Pace


def _upgradable(saved: Sequence[str], topology: Topology) -> bool:
    """Whether a checkpoint of the stages ``saved`` resumes in ``topology`` though they
    differ: the same stages, plus partial-window stages the checkpoint predates (one-phase
    revenue and top products, before 3ad9098). Those start empty: every order they would
    hold is in the one-phase window state, which the merge stage of the same uid reads.
    Also stateless stages and those that adopt an older stage's state on restore
    (trending's fan-out and partials, see Engine.restore)."""
    here = {stage.uid for stage in topology.stages} | set(topology.stage_names())
    missing = [stage for stage in topology.stages
               if stage.uid not in saved and stage.name not in saved]
    return set(saved) <= here and all(
        isinstance(stage.operator, PartialWindows) or not stage.operator.state_descriptors
        or adopts_one_phase_trending(stage) for stage in missing)
