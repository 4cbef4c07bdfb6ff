"""Checkpoints of the pipeline ``shopstream serve`` hosts, taken together with the
position of its write-ahead log.

A checkpoint holds the engine's snapshot (state, timers, buffered events, watermark), the
log position of the last input the engine took, and the server's counters; it is saved
only after the store tap flushed every output computed so far. On restart the engine is
restored and the log is replayed from that position: the engine sees exactly the inputs,
in the order, that it saw before the crash, so its state and the store's values end as in
an uninterrupted run. Segments of the log that end before the position are deleted.

Layout of ``--checkpoint-dir DIR``: ``DIR/checkpoint.pkl`` (see
:class:`~shopstream.runners.embedded.checkpoint.CheckpointStore`) and ``DIR/wal/``.

Examples
--------
>>> import tempfile
>>> c = ServeCheckpoints(ServeCheckpointConfig(tempfile.mkdtemp(), every_events=2))
>>> c.due(1), c.due(2)
(False, True)
>>> c.close()
>>> ServeCheckpointConfig("d", every_seconds=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: ServeCheckpointConfig.every_seconds must be > 0, got 0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.connectors.wal import WalConfig, WriteAheadLog
from shopstream.errors import CheckpointError, require_positive
from shopstream.runners.embedded.checkpoint import CheckpointStore
from shopstream.runners.embedded.engine import Engine

__all__ = ["ServeCheckpointConfig", "ServeCheckpoints"]

_KIND = "serve"


@dataclass(frozen=True)
class ServeCheckpointConfig:
    """Where and how often ``serve`` checkpoints.

    Parameters
    ----------
    directory
        Holds ``checkpoint.pkl`` and the write-ahead log ``wal/``.
    every_events, every_seconds
        Checkpoint after this many events or this much wall time with new input,
        whichever comes first (defaults 100,000 and 30 s). They bound the replay at
        restart and the disk the log uses.
    wal_segment_bytes
        Size of one log segment (default 64 MiB).
    """

    directory: str | Path
    every_events: int = 100_000
    every_seconds: float = 30.0
    wal_segment_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        require_positive(self, "every_events", "every_seconds", "wal_segment_bytes")


class ServeCheckpoints:
    """The checkpoint store and the write-ahead log of one server's directory."""

    def __init__(self, config: ServeCheckpointConfig) -> None:
        self.config = config
        self.store = CheckpointStore(config.directory)
        self.wal = WriteAheadLog(WalConfig(Path(config.directory) / "wal",
                                           config.wal_segment_bytes))
        self.position = 0
        self.saved = 0
        self.last_saved_s: float | None = None
        self._since_s = time.monotonic()

    def due(self, events_since: int) -> bool:
        """Whether a checkpoint is due after ``events_since`` new events."""
        if events_since >= self.config.every_events:
            return True
        return events_since > 0 and (
            time.monotonic() - self._since_s >= self.config.every_seconds)

    def restore(self, engine: Engine) -> dict[str, int]:
        """Put the saved state into ``engine``; return the saved counters ({} if none)."""
        saved = self.store.load()
        if saved is None:
            return {}
        if saved.get("kind") != _KIND:
            msg = (f"checkpoint in {str(self.config.directory)!r} was not written by "
                   f"`shopstream serve`: use another --checkpoint-dir")
            raise CheckpointError(msg)
        engine.restore(saved["engine"])
        self.position = int(saved["wal_position"])
        counters: dict[str, int] = saved["counters"]
        return counters

    def save(self, engine: Engine, position: int, counters: dict[str, int]) -> None:
        """Save the engine at log ``position`` (the caller flushed the store first), then
        delete the log segments it covers."""
        snapshot: dict[str, Any] = {"kind": _KIND, "engine": engine.snapshot(),
                                    "wal_position": position, "counters": dict(counters)}
        self.store.save(snapshot)
        self.position = position
        self.saved += 1
        self.last_saved_s = time.time()
        self._since_s = time.monotonic()
        self.wal.release(position)

    def status(self) -> dict[str, Any]:
        """What ``/health`` shows of the checkpoints and the log."""
        age = None if self.last_saved_s is None else round(time.time() - self.last_saved_s, 1)
        return {"directory": str(self.config.directory), "saved": self.saved,
                "ageSeconds": age, "walPosition": self.position,
                "walBytes": self.wal.disk_bytes, "walSegments": self.wal.segments}

    def close(self) -> None:
        self.wal.close()
