"""The durability wiring of the pipeline ``shopstream serve`` hosts: its write-ahead log
position, when to checkpoint, and recovery from the last checkpoint.

:class:`LiveDurability` keeps the log position of the last input the engine took and the
inputs since the last checkpoint; a checkpoint flushes the store first (a checkpoint must
never cover outputs the store lacks), then saves the engine at that position (see
:mod:`shopstream.api.serve_checkpoints`). Without a checkpoint configuration it keeps the
count and position only, and saving is a no-op. Memory: two integers, whatever the
history.

Examples
--------
>>> import tempfile
>>> from shopstream.api.ingest_log import Entry
>>> from shopstream.api.serve_checkpoints import ServeCheckpointConfig
>>> from shopstream.pipeline import default_topology
>>> from shopstream.runners.embedded.engine import Engine
>>> engine = Engine(default_topology(), 0, lambda out: None)
>>> durable = LiveDurability(ServeCheckpointConfig(tempfile.mkdtemp(), every_events=2),
...                          engine, None)
>>> durable.record(Entry([], idle_ms=5, position=7)); durable.due()
False
>>> durable.save(processed=0); durable.checkpoints.saved
1
>>> durable.close()
>>> LiveDurability(None, engine, None).due()
False
"""

from __future__ import annotations

from collections.abc import Iterator

from shopstream.api.ingest_log import Entry, entry_of
from shopstream.api.serve_checkpoints import ServeCheckpointConfig, ServeCheckpoints
from shopstream.connectors.wal import WriteAheadLog
from shopstream.runners.embedded.engine import Engine
from shopstream.stores.tap import StoreTap

__all__ = ["LiveDurability", "MetricLine"]

#: One Prometheus metric: name, type, help text and value.
MetricLine = tuple[str, str, str, float]


class LiveDurability:
    """The checkpoints and log position of one hosted pipeline (``config`` ``None``: no
    log, no checkpoints)."""

    def __init__(self, config: ServeCheckpointConfig | None, engine: Engine,
                 tap: StoreTap | None) -> None:
        self.checkpoints = ServeCheckpoints(config) if config is not None else None
        self.engine = engine
        self.tap = tap
        #: Log position of the last input the engine took.
        self.position = 0
        #: Inputs (events, or one per idle advance) since the last checkpoint.
        self.since_checkpoint = 0

    @property
    def wal(self) -> WriteAheadLog | None:
        """The write-ahead log accepted events go to (``None`` without checkpoints)."""
        return self.checkpoints.wal if self.checkpoints is not None else None

    def restore(self) -> int:
        """Put the last checkpoint into the engine; return how many events it had
        processed (0 without a checkpoint)."""
        if self.checkpoints is None:
            return 0
        counters = self.checkpoints.restore(self.engine)
        self.position = self.checkpoints.position
        return counters.get("processed", 0)

    def replay(self) -> Iterator[Entry]:
        """The log's entries after the restored checkpoint, in log order."""
        if self.checkpoints is None:
            return
        for kind, payload, position in self.checkpoints.wal.records(self.checkpoints.position):
            yield entry_of(kind, payload, position)

    def record(self, entry: Entry) -> None:
        """Note that the engine took ``entry``."""
        self.position = entry.position
        self.since_checkpoint += len(entry.events) or 1

    def due(self) -> bool:
        """Whether a checkpoint is due (never without checkpoints)."""
        return self.checkpoints is not None and self.checkpoints.due(self.since_checkpoint)

    def save(self, processed: int) -> None:
        """Flush the store, then checkpoint the engine at the current position with the
        ``processed`` count (nothing without checkpoints)."""
        if self.checkpoints is None:
            return
        # The store first: a checkpoint must never cover outputs the store lacks.
        if self.tap is not None:
            self.tap.flush()
        self.checkpoints.save(self.engine, self.position, {"processed": processed})
        self.since_checkpoint = 0

    def close(self) -> None:
        """Close the log."""
        if self.checkpoints is not None:
            self.checkpoints.close()

    def metric_lines(self) -> list[MetricLine]:
        """The Prometheus metrics of the checkpoints and the log (none without)."""
        if self.checkpoints is None:
            return []
        status = self.checkpoints.status()
        lines: list[MetricLine] = [
            ("shopstream_serve_checkpoints_total", "counter",
             "Checkpoints saved by this server.", status["saved"]),
            ("shopstream_wal_bytes", "gauge",
             "Bytes of write-ahead log segments on disk.", status["walBytes"]),
        ]
        if status["ageSeconds"] is not None:
            lines.append(("shopstream_serve_checkpoint_age_seconds", "gauge",
                          "Seconds since the last checkpoint.", status["ageSeconds"]))
        return lines
