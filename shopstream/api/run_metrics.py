"""What ``/metrics`` and ``/health`` say about a pipeline run (``shopstream run`` over a
file, Kafka or PostgreSQL, and ``collect``).

A :class:`RunObserver` is a runner tap that sees the dead letters (counted by stage:
``decode``, ``validate``, ``limit``, ``operator:NAME``) and the flush before each
checkpoint (its time is the checkpoint's). Everything else is read at scrape time from
objects the run keeps anyway: the engine (events in, outputs per stream, late events,
watermark), the store's :class:`~shopstream.stores.base.WriteStats` (errors, retries,
values waiting) and, with Kafka, the consumer's lag per partition. Memory is bounded by
the number of dead-letter stages and output streams; per event it costs nothing.

Examples
--------
>>> from shopstream.events.records import DeadLetter, Output
>>> observer = RunObserver("run", clock=lambda: 100.0, wall_clock=lambda: 1_000.0)
>>> observer.write(Output("dead-letter", "in", DeadLetter("decode", "bad", "x", "in", 1)))
>>> observer.flush()  # a checkpoint
>>> text = observer.metrics()
>>> [l for l in text.splitlines() if l.startswith(("shopstream_dead_letters_total{",
...                                                  "shopstream_checkpoint_age"))]
['shopstream_dead_letters_total{stage="decode"} 1', 'shopstream_checkpoint_age_seconds 0']
>>> observer.health()["status"]
'ok'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shopstream.api.metrics import line, store_lines
from shopstream.events import streams
from shopstream.events.records import Output
from shopstream.stores.base import FeatureStore
from shopstream.stores.open import redact_url

__all__ = ["EngineView", "ObserverTarget", "RunObserver", "collect_observer"]

#: Engine.watermark_ms before any event.
_NO_WATERMARK = -(2**62)


class EngineView:
    """The numbers of an engine that ``/metrics`` shows (duck-typed: any object with
    ``watermark_ms``, ``max_timestamp_ms``, ``late_events``, ``output_counts`` and,
    optionally, ``events_in``)."""

    watermark_ms: int
    max_timestamp_ms: int
    late_events: int
    output_counts: Mapping[str, int]


class RunObserver:
    """A tap counting dead letters and checkpoints, and the renderer of ``/metrics`` and
    ``/health`` for ``command``.

    ``engine`` returns the running engine (``None`` before the run starts); ``store``
    is the feature store written, if any; ``lag`` returns the consumer lag per
    ``(topic, partition)`` (Kafka), ``events_in`` the records read so far when the
    engine does not count them; ``urls`` are shown in ``/health`` with passwords hidden.
    """

    streams = frozenset({streams.DEAD_LETTER})

    def __init__(self, command: str, engine: Callable[[], Any] | None = None,
                 store: FeatureStore | None = None,
                 lag: Callable[[], Mapping[tuple[str, int], int]] | None = None,
                 events_in: Callable[[], int] | None = None,
                 urls: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.command = command
        self._engine = engine or (lambda: None)
        self.store = store
        self._lag = lag
        self._events_in = events_in
        self.urls = dict(urls or {})
        self._clock = clock
        self._wall = wall_clock
        self.started = clock()
        self.dead_letters: dict[str, int] = {}
        self.checkpoints = 0
        self.last_checkpoint: float | None = None
        self.pipeline_errors: Callable[[], int] = lambda: 0

    def set_engine(self, engine: Callable[[], Any]) -> None:
        """Where the running engine is found (it exists only once the run starts)."""
        self._engine = engine

    def set_lag(self, lag: Callable[[], Mapping[tuple[str, int], int]]) -> None:
        """The consumer lag per ``(topic, partition)`` of a Kafka input."""
        self._lag = lag

    def set_events_in(self, events_in: Callable[[], int]) -> None:
        """The count of records the source has read."""
        self._events_in = events_in

    # -- the tap ----------------------------------------------------------------------
    def write(self, out: Output) -> None:
        stage = getattr(out.record, "stage", "unknown")
        self.dead_letters[stage] = self.dead_letters.get(stage, 0) + 1

    def flush(self) -> None:
        """Called by the runner just before each checkpoint is saved."""
        self.checkpoints += 1
        self.last_checkpoint = self._clock()

    def close(self) -> None:
        pass

    # -- the answers ------------------------------------------------------------------
    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        out: list[str] = []
        engine = self._engine()
        outputs: dict[str, int] = dict(engine.output_counts) if engine is not None else {}
        late = engine.late_events if engine is not None else 0
        dead = dict(self.dead_letters)
        line(out, "shopstream_events_in_total", "counter",
             "Input records read (valid events, late events and dead letters).",
             self._input_count(engine, late, sum(dead.values())))
        out.append("# HELP shopstream_events_out_total Records emitted per output stream.")
        out.append("# TYPE shopstream_events_out_total counter")
        for stream, count in sorted(outputs.items()):
            out.append(f'shopstream_events_out_total{{stream="{stream}"}} {count}')
        out.append("# HELP shopstream_dead_letters_total Refused input records by stage "
                   "(decode, validate, limit, operator:NAME).")
        out.append("# TYPE shopstream_dead_letters_total counter")
        for stage, count in sorted(dead.items()):
            out.append(f'shopstream_dead_letters_total{{stage="{stage}"}} {count}')
        line(out, "shopstream_late_events_total", "counter",
             "Events that arrived behind the watermark.", late)
        now_s = self._wall()
        if engine is not None and engine.watermark_ms > _NO_WATERMARK:
            line(out, "shopstream_watermark_lag_seconds", "gauge",
                 "Wall clock minus the pipeline's watermark (event time).",
                 round(now_s - engine.watermark_ms / 1000, 3))
            line(out, "shopstream_event_lag_seconds", "gauge",
                 "Wall clock minus the newest event time seen.",
                 round(now_s - engine.max_timestamp_ms / 1000, 3))
        line(out, "shopstream_checkpoints_total", "counter",
             "Checkpoints taken by this process.", self.checkpoints)
        if self.last_checkpoint is not None:
            line(out, "shopstream_checkpoint_age_seconds", "gauge",
                 "Seconds since the last checkpoint.",
                 round(self._clock() - self.last_checkpoint, 3))
        if self._lag is not None:
            _lag_lines(out, self._lag)
        line(out, "shopstream_pipeline_errors_total", "counter",
             "Failures inside the pipeline (see /health).", self.pipeline_errors())
        if self.store is not None:
            store_lines(out, self.store.stats)
        return "\n".join(out) + "\n"

    def _input_count(self, engine: Any, late: int, dead: int) -> int:
        if self._events_in is not None:
            return self._events_in()
        accepted = getattr(engine, "events_in", None)
        return int(accepted) + dead if accepted is not None else late + dead

    def health(self) -> dict[str, Any]:
        """``status`` is ``ok`` unless the store is failing; never shows a password."""
        engine = self._engine()
        stats = self.store.stats if self.store is not None else None
        store_failing = stats is not None and stats.waiting > 0
        body: dict[str, Any] = {
            "status": "store unavailable" if store_failing else "ok",
            "command": self.command,
            "uptimeSeconds": round(self._clock() - self.started, 1),
            "checkpointAgeSeconds": (None if self.last_checkpoint is None
                                     else round(self._clock() - self.last_checkpoint, 1)),
            "watermark": (engine.watermark_ms if engine is not None
                          and engine.watermark_ms > _NO_WATERMARK else None),
            "deadLetters": sum(self.dead_letters.values()),
        }
        if self.store is not None and stats is not None:
            body["store"] = {"url": redact_url(self.store.url), "errors": stats.errors,
                             "waiting": stats.waiting, "retries": stats.retries}
        body.update({name: redact_url(url) for name, url in self.urls.items()})
        return body


class ObserverTarget:
    """A collector target (``accept`` / ``dead_letter``) that counts for a
    :class:`RunObserver`: events delivered, and dead letters by stage."""

    def __init__(self, observer: RunObserver) -> None:
        self.observer = observer
        self.events = 0

    def accept(self, events: Sequence[Any]) -> None:
        self.events += len(events)

    def dead_letter(self, letters: Sequence[Any]) -> None:
        for letter in letters:
            self.observer.write(Output(streams.DEAD_LETTER, "", letter))

    def close(self) -> None:
        pass


def collect_observer(collector: Any, store: FeatureStore | None, live: Any,
                     kafka: str | None) -> RunObserver:
    """The observer of ``shopstream collect``: its hosted pipeline ``live`` (if any),
    ``store`` and what ``collector`` delivers (its target is added last, so only events
    every other target took are counted)."""
    observer = RunObserver("collect", store=store,
                           engine=(lambda: live.engine) if live is not None else None)
    target = ObserverTarget(observer)
    collector.targets.append(target)
    observer.set_events_in(lambda: target.events + sum(observer.dead_letters.values()))
    if live is not None:
        observer.pipeline_errors = lambda: int(live.errors)
    if kafka:
        observer.urls["kafka"] = kafka
    return observer


def _lag_lines(out: list[str], lag: Callable[[], Mapping[tuple[str, int], int]]) -> None:
    """The consumer-lag gauge, one line per input partition (none while the broker is
    away: the rest of the page still shows)."""
    try:
        lags = dict(lag())
    except Exception:  # the broker is away: no lag sample, the rest still shows
        lags = {}
    out.append("# HELP shopstream_kafka_consumer_lag Messages behind the end of each "
               "input partition (end offset minus the consumer's position).")
    out.append("# TYPE shopstream_kafka_consumer_lag gauge")
    for (topic, partition), behind in sorted(lags.items()):
        out.append(f'shopstream_kafka_consumer_lag{{topic="{topic}",'
                   f'partition="{partition}"}} {behind}')
