"""Where an embedded run's outputs go besides its JSONL files: taps (a webhook, a store)
and a checkpointed sink (the Parquet lake), and the emit function that fans out to them.

Examples
--------
>>> from shopstream.events.records import Output
>>> seen = []
>>> class Recorder:
...     streams = frozenset({"a"})
...     def write(self, out): seen.append(out.key)
...     def flush(self): pass
...     def close(self): pass
>>> emit = fan_out(lambda out: None, ("a", "b"), (Recorder(),))
>>> emit(Output("a", "k1", {})); emit(Output("b", "k2", {})); seen
['k1']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output

__all__ = ["CheckpointedSink", "Tap", "also", "fan_out"]


class Tap(Protocol):
    """An extra sink beside the files (a webhook, a store...): sees the streams it names.

    ``write`` must not block the pipeline for long; ``close`` is called when the run ends.
    Taps are at-least-once: after a resume they see again what came after the checkpoint.
    """

    streams: frozenset[str]

    def write(self, out: Output) -> None: ...
    def flush(self) -> None:
        """Deliver what was written; called before each checkpoint is saved."""
        ...
    def close(self) -> None: ...


class CheckpointedSink(Protocol):
    """A sink that writes exactly what each checkpoint covers (the Parquet lake).

    ``start`` gets the state its last ``commit`` returned into the checkpoint being
    resumed (``None`` from the start) and must drop what it wrote after that;
    ``write_event`` sees every input event as it enters the engine; ``commit`` makes the
    rows so far durable and returns a state small enough for the checkpoint.
    """

    def start(self, state: Any, resume: bool, checkpoint_dir: Path | None) -> None: ...
    def write(self, out: Output) -> None: ...
    def write_event(self, event: ShopperEvent) -> None: ...
    def commit(self) -> Any: ...
    def close(self) -> None: ...


def fan_out(write: Callable[[Output], None], sink_streams: Sequence[str],
            taps: Sequence[Tap]) -> Callable[[Output], None]:
    """The engine's emit function: ``write`` (the files), plus every tap that wants the
    stream (routes computed once, so an output costs one lookup)."""
    if not taps:
        return write
    routes: dict[str, tuple[Tap, ...]] = {}
    for stream in sink_streams:
        routes[stream] = tuple(t for t in taps if stream in t.streams)

    def emit(out: Output) -> None:
        write(out)
        for tap in routes.get(out.stream, ()):
            tap.write(out)

    return emit


def also(first: Callable[[Any], None], then: Callable[[Any], None]) -> Callable[[Any], None]:
    """One callable that calls ``first`` then ``then`` with the same argument."""
    def both(item: Any) -> None:
        first(item)
        then(item)
    return both
