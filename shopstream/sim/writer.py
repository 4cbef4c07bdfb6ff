"""Writing a simulation as JSONL: to a file as fast as possible, or live at a fixed rate.

Examples
--------
>>> import io
>>> from shopstream.sim.config import SimulationConfig
>>> out = io.BytesIO()
>>> summary = write_jsonl(SimulationConfig(sessions=10, seed=1, end_ms=10**12), out)
>>> summary.sessions, summary.lines == out.getvalue().count(b"\\n")
(10, True)
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import msgspec

from shopstream.errors import ConfigError
from shopstream.sim.config import SimulationConfig
from shopstream.sim.engine import Simulation
from shopstream.sim.wire import LineEncoder

__all__ = ["SimulationSummary", "write_jsonl"]

_FLUSH_BYTES = 1 << 18


@dataclass(frozen=True)
class SimulationSummary:
    """What a run wrote: ``events`` good events plus ``bad_lines`` malformed lines.

    Examples
    --------
    >>> SimulationSummary(120, 20, 3, 0, "out.jsonl", 0.5).describe()
    'wrote 123 lines (120 events, 3 bad) from 20 sessions to out.jsonl in 0.50 s (246 lines/s)'
    """

    events: int
    sessions: int
    bad_lines: int
    iso_timestamps: int
    output: str
    seconds: float
    interrupted: bool = False

    @property
    def lines(self) -> int:
        """Every line written, good and bad."""
        return self.events + self.bad_lines

    def describe(self) -> str:
        """The one-line summary the CLI prints."""
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        stop = " (interrupted)" if self.interrupted else ""
        return (f"wrote {self.lines} lines ({self.events} events, {self.bad_lines} bad) "
                f"from {self.sessions} sessions to {self.output} in {self.seconds:.2f} s "
                f"({rate:.0f} lines/s){stop}")


class _Progress(Protocol):
    def update(self, n: int) -> object: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int) -> object:
        return None

    def close(self) -> None:
        return None


def write_jsonl(
    config: SimulationConfig,
    output: str | os.PathLike[str] | BinaryIO = "-",
    *,
    progress: bool | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.time,
) -> SimulationSummary:
    """Run the simulation described by ``config`` and write it as JSON lines.

    Parameters
    ----------
    config
        What to simulate. With ``config.rate`` set, lines are paced at that many per
        second of wall clock and stamped with the current time (live mode). Live mode
        keeps the order of events but not their simulated spacing: time is compressed
        to the rate.
    output
        A path, ``"-"`` for standard output, or an open binary stream.
    progress
        Show a progress bar on stderr; by default only when writing to a named file and
        never in live mode.
    sleep, now
        The clock of live mode (injectable for tests).

    Returns
    -------
    SimulationSummary
        Counts of what was written; ``interrupted`` if Ctrl-C stopped the run.

    Examples
    --------
    >>> import io
    >>> cfg = SimulationConfig(sessions=5, seed=3, end_ms=10**12, rate=1000.0)
    >>> out, naps = io.BytesIO(), []
    >>> s = write_jsonl(cfg, out, sleep=naps.append, now=lambda: 1_700_000_000.0)
    >>> s.events > 0 and b'"timestamp":1700000000000' in out.getvalue()
    True
    """
    start = time.perf_counter()
    sim = Simulation(config)
    encoder = LineEncoder(config.seed, config.bad_rate, config.iso_timestamp_rate)
    live = config.rate is not None
    with _open(output) as (stream, name):
        if progress is None:
            progress = isinstance(output, str | os.PathLike) and name != "-"
        bar = _progress_bar(config.sessions) if progress and not live else _NoProgress()
        try:
            interrupted = _write(sim, encoder, stream, bar, config.rate, sleep, now)
        finally:
            bar.close()
        stream.flush()
    return SimulationSummary(encoder.good_lines, sim.sessions_started,
                             encoder.bad_lines, encoder.iso_lines, name,
                             time.perf_counter() - start, interrupted)


def _write(sim: Simulation, encoder: LineEncoder, stream: BinaryIO, bar: _Progress,
           rate: float | None, sleep: Callable[[float], None], now: Callable[[], float],
           ) -> bool:
    """Write the simulation paced at ``rate`` lines a second (``None``: as fast as it
    goes); whether Ctrl-C interrupted it."""
    try:
        if rate is not None:
            _write_live(sim, encoder, stream, rate or 1.0, sleep, now)
        else:
            _write_fast(sim, encoder, stream, bar)
    except KeyboardInterrupt:
        return True
    return False


@contextmanager
def _open(output: str | os.PathLike[str] | BinaryIO) -> Iterator[tuple[BinaryIO, str]]:
    if not isinstance(output, str | os.PathLike):
        yield output, str(getattr(output, "name", "<stream>"))
        return
    path = os.fspath(output)
    if path == "-":
        yield sys.stdout.buffer, "-"
        return
    try:
        handle = open(path, "wb")  # noqa: SIM115 - closed below, after the with-body
    except OSError as exc:
        msg = f"output {path!r} cannot be opened: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    with handle:
        yield handle, path


def _progress_bar(total: int) -> _Progress:
    # Imported lazily: tqdm ships no type information and only file output needs it.
    tqdm = importlib.import_module("tqdm")
    bar: _Progress = tqdm.tqdm(total=total, unit=" sessions", file=sys.stderr,
                               dynamic_ncols=True, mininterval=0.5)
    return bar


def _write_fast(sim: Simulation, encoder: LineEncoder, stream: BinaryIO,
                bar: _Progress) -> None:
    buf = bytearray()
    reported = 0
    extend = encoder.extend
    try:
        for batch in sim.event_batches():
            extend(batch, buf)
            if len(buf) >= _FLUSH_BYTES:
                stream.write(buf)
                buf.clear()
                bar.update(sim.sessions_started - reported)
                reported = sim.sessions_started
    finally:
        stream.write(buf)
        bar.update(sim.sessions_started - reported)


def _write_live(sim: Simulation, encoder: LineEncoder, stream: BinaryIO, rate: float,
                sleep: Callable[[float], None], now: Callable[[], float]) -> None:
    buf = bytearray()
    t0 = now()
    lines = 0
    try:
        for delivery, event in sim.deliveries():
            wait = t0 + lines / rate - now()
            if wait > 0:
                # Flush before sleeping, so a consumer downstream sees events on time.
                stream.write(buf)
                stream.flush()
                buf.clear()
                sleep(wait)
            # Keep the simulated disorder: a late event is stamped that much in the past.
            stamp = max(0, int(now() * 1000) - (delivery - event.timestamp_ms))
            lines += encoder.append(msgspec.structs.replace(event, timestamp_ms=stamp), buf)
            if len(buf) >= _FLUSH_BYTES:
                stream.write(buf)
                buf.clear()
    finally:
        stream.write(buf)
