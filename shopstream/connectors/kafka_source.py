"""Kafka topics as a :class:`~shopstream.runners.embedded.source.Source`, with event-time
watermarks per partition (Flink's model for Kafka sources).

On start the source assigns itself every partition of the input topics (one process
reads them all, so no group rebalance can move a partition away in the middle of a
checkpoint) and seeks each to, in order of preference: the checkpointed position, the
offset the consumer group committed, the beginning. Partitions that appear while it runs
(more partitions for a topic) are looked for every ``discover_s`` and read from their
beginning. Offsets are committed to the group only from :meth:`KafkaSource.commit`,
which the runner calls once a checkpoint covering them is durable: a crash replays, it
never loses.

Event time, not the message timestamp: each message is decoded as the runner will
decode it, and :class:`~shopstream.connectors.partition_merge.PartitionMerge` releases
the partitions merged by the events' own time, up to the per-partition watermarks
(:mod:`~shopstream.connectors.partition_watermarks`: bounded out-of-orderness per
partition with the engine's bound; the source's watermark is the minimum over the
active partitions; a partition read to its end, or silent for the idle timeout, stops
holding it back until its next event). A replayed history therefore comes out in event
order whatever the message timestamps say (the produce time, usually). Messages that do
not decode are released at once (the runner sends them to ``dead-letter``).

A replayed history (last month's events) is judged by its own progress, not by the wall
clock: each partition has a progress window
(:class:`~shopstream.events.time_window.PartitionGate`, ``InputLimits.max_ahead_ms`` and
``confirm_events``). An event far ahead of what its partition showed (a day ahead, or in
year 9999) is held; the next in-window event of the partition refuses it: it keeps its
place in the partition and comes out as a :class:`~shopstream.events.time_window.Refusal`
(the bytes, the position after it, the reason), which the runner writes to
``dead-letter`` as it does a file's refusals; so it never moves a watermark nor makes
later events late; ``confirm_events`` such events in a row are a real gap in the data
and go through. An event near the wall clock is live data and goes through.

The position after each message is a :class:`KafkaPosition`: the next offset to read of
every partition, and each partition's watermark, so a resume continues with the event
time where it left off.

The source is unbounded: it yields an idle tick (``None``) whenever a poll brings
nothing and nothing waits in the merge, and ends only when :meth:`KafkaSource.stop` is
called (``exhausted`` stays ``False``: timers wait for the resume) or, with
``stop_when_idle_s``, after that much silence (``exhausted`` becomes ``True``: the input
counts as complete, as at the end of a file). End offsets are not used to decide
anything: some Kafka-protocol brokers (tansu) report them wrongly; the end of a
partition is what fetches say (partition EOF).

Its poll settings and consumer settings are in
:mod:`~shopstream.connectors.kafka_source_config` (:class:`KafkaSourceConfig` is
exported here too); the per-partition gates in front of the merge in
:mod:`~shopstream.connectors.kafka_gates`; whether the broker answers (outage detection)
in :mod:`~shopstream.connectors.kafka_probe`; the consumer group's offsets (where to
start, commits, lag) in :mod:`~shopstream.connectors.kafka_offsets`.

After an outage of the broker, the runner's clock of silence
(:meth:`KafkaSource.listened_s`) stands still for ``outage_grace_s`` more: producers
that lost the broker too hold the events stamped meanwhile and send them once they
reconnect, which librdkafka's producers do up to ``reconnect.backoff.max.ms`` (10 s by
default, plus up to 50 % jitter: 15 s) after the broker is back, later than this
consumer may. During the grace no partition goes idle either (so the events of
producers back first, on other partitions, do not move event time past what slower
ones hold), and ``stop_when_idle`` counts silence from its end. Such events are late
only if they arrive more than ``outage_grace_s`` plus the out-of-orderness bound after
the consumer is back, or if newer events reached their own partition first by more than
the bound (see docs/hardening.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from shopstream.connectors.kafka_admin import (
    BrokerOutage,
    KafkaConfig,
    KafkaError,
    describe,
    ensure_topics,
    kafka,
    wait_for_broker,
)
from shopstream.connectors.kafka_gates import PartitionGates, event_time
from shopstream.connectors.kafka_offsets import commit_offsets, consumer_lag, start_offsets
from shopstream.connectors.kafka_probe import BrokerProbe
from shopstream.connectors.kafka_source_config import KafkaSourceConfig, consumer_settings
from shopstream.connectors.partition_merge import PartitionMerge
from shopstream.connectors.partition_watermarks import Partition, PartitionWatermarks
from shopstream.errors import SourceError
from shopstream.events.decode import EventDecoder
from shopstream.events.limits import InputLimits
from shopstream.events.time_window import Refusal

__all__ = ["KafkaPosition", "KafkaSource", "KafkaSourceConfig"]

_LOG = logging.getLogger("shopstream.kafka")


@dataclass(frozen=True)
class KafkaPosition:
    """Where a Kafka source stands.

    ``offsets`` holds the next offset to read of each partition (``OFFSET_BEGINNING``,
    -2, for one not read yet); ``watermarks`` each partition's watermark as of the
    events released so far (absent before its first event).
    """

    offsets: dict[Partition, int]
    watermarks: dict[Partition, int] = field(default_factory=dict)


#: A message the source yields: its value and the position after it.
Message: TypeAlias = tuple[bytes, KafkaPosition]


@dataclass
class _Loop:
    """What the read loop of a :class:`KafkaSource` carries from one poll to the next:
    ``fetched``, the offset after the last message fetched of each partition; ``paused``,
    by flow control; ``unheard``, not heard from since the broker came back (until
    ``grace_end``); ``hold_until``, the end of the outage grace (see
    :meth:`KafkaSource.listened_s`)."""

    where: dict[Partition, int]
    gates: PartitionGates
    decoder: EventDecoder
    end_of_partition: int
    fetched: dict[Partition, int] = field(default_factory=dict)
    paused: set[Partition] = field(default_factory=set)
    unheard: set[Partition] = field(default_factory=set)
    grace_end: float = 0.0
    hold_until: float = 0.0
    last_message: float = 0.0
    next_discovery: float = 0.0


class KafkaSource:
    """The input topics of ``config``, read from a checkpointed position."""

    def __init__(self, config: KafkaConfig, source: KafkaSourceConfig | None = None,
                 limits: InputLimits | None = None) -> None:
        self.config = config
        self.source = source or KafkaSourceConfig()
        #: The run's input limits: a message they refuse never moves a watermark.
        self.limits = limits or InputLimits()
        self._consumer: Any = None
        self._merge: PartitionMerge | None = None
        self._clock = 0.0
        self._held = 0.0
        self._stop = threading.Event()
        self._exhausted = False
        self.messages = 0
        #: The broker going away and coming back (one log line each).
        self.outage = BrokerOutage(config.bootstrap, "run --kafka's consumer")
        self._probe = BrokerProbe(self.outage)

    @property
    def name(self) -> str:
        """``kafka://BOOTSTRAP/topic,topic``, as dead letters name their source."""
        return f"kafka://{self.config.bootstrap}/{','.join(self.config.input_topics)}"

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    @property
    def watermark_ms(self) -> int | None:
        """The source's watermark: the minimum over its active partitions (``None``
        before every active partition showed an event)."""
        merge = self._merge
        return None if merge is None else merge.source_watermark(self._clock)

    def listened_s(self) -> float:
        """Seconds spent waiting on the broker for messages while it answered (the poll
        clock), less the first ``outage_grace_s`` after each outage: the runner's clock
        of silence, so that neither a broker outage, nor the time producers take to
        reconnect after it (their events stamped during the outage arrive then), nor
        the time the run spent elsewhere moves event time on."""
        return self._clock - self._held

    def stop(self) -> None:
        """End the iterator at the next poll (safe from a signal handler or a thread)."""
        self._stop.set()

    def read(self, position: KafkaPosition | dict[Partition, int] | None,
             ) -> Iterator[Message | Refusal | None]:
        """Messages (values) from ``position`` on, with the position after each; a record
        the partition's progress window refused comes as a :class:`Refusal`."""
        confluent = kafka()
        if isinstance(position, KafkaPosition):
            offsets, marks = position.offsets, position.watermarks
        elif isinstance(position, dict):  # a checkpoint from before watermarks were kept
            offsets, marks = position, {}
        elif position is None:
            offsets, marks = {}, {}
        else:
            msg = (f"the checkpoint holds input position {position!r}, not Kafka offsets: it "
                   "was taken by a run over a file; use another --checkpoint-dir")
            raise SourceError(msg)
        admin = wait_for_broker(self.config)
        counts = ensure_topics(self.config, self.config.input_topics, admin)
        consumer = confluent.Consumer(consumer_settings(self.config, self.outage.error))
        self._consumer = consumer
        partitions = [(t, p) for t in self.config.input_topics for p in range(counts[t])]
        start = start_offsets(consumer, self.config, partitions, offsets)
        consumer.assign([confluent.TopicPartition(t, p, o) for (t, p), o in start.items()])
        settings = self.source
        merge = PartitionMerge(PartitionWatermarks(
            settings.out_of_orderness_ms, settings.idle_timeout_s, settings.caught_up_s))
        for tp in start:
            merge.assign(tp, 0.0, marks.get(tp))
        self._merge = merge
        return self._messages(consumer, merge, dict(start))

    def _messages(self, consumer: Any, merge: PartitionMerge, where: dict[Partition, int],
                  ) -> Iterator[Message | Refusal | None]:
        # Partitions not read yet keep OFFSET_BEGINNING (-2) until their first message:
        # a resume then starts them from the beginning again, which is what it should do.
        settings = self.source
        # The gates: each partition's progress window (see the module docs).
        loop = _Loop(where, PartitionGates(merge, self.limits), EventDecoder(self.limits),
                     kafka().KafkaError._PARTITION_EOF, last_message=time.monotonic())
        loop.next_discovery = loop.last_message + settings.discover_s
        idle_limit = settings.stop_when_idle_s
        stop = self._stop
        while not stop.is_set():
            polled = self._poll(consumer, merge, loop)
            if polled is None:
                continue
            batch, now = polled
            if self._take(batch, merge, loop, int(time.time() * 1000)):
                loop.last_message = now
            emitted = yield from self._release(merge, where, loop.gates)
            self._flow_control(consumer, merge, loop.paused, 4 * settings.batch)
            if now >= loop.next_discovery:
                self._discover(consumer, merge, where)
                loop.next_discovery = time.monotonic() + settings.discover_s
            if emitted or len(merge):
                continue
            if loop.unheard and now < loop.grace_end:
                # Back from an outage: silence counts once every partition answered (or
                # after the idle timeout), not while fetches start again.
                loop.last_message = now
                continue
            loop.unheard.clear()
            # After an outage, silence for --stop-when-idle counts from the grace's end:
            # producers may still be sending what they held.
            quiet_since = max(loop.last_message, loop.hold_until)
            if idle_limit is not None and time.monotonic() - quiet_since >= idle_limit:
                if loop.gates.finish(self._clock):
                    continue
                self._exhausted = True
                return
            # Idle ticks only when nothing waits in the merge: the runner moves the
            # watermark on after idle ticks, which must not overtake held messages.
            yield None

    def _poll(self, consumer: Any, merge: PartitionMerge, loop: _Loop,
              ) -> tuple[list[Any], float] | None:
        """One fetch: the messages and the monotonic time after it, the poll clock moved
        by the time spent waiting; ``None`` while no broker answers."""
        settings = self.source
        outage = self.outage
        # While messages wait in the merge, poll briefly.
        timeout = settings.poll_timeout_s if not len(merge) else 0.02
        before = time.monotonic()
        batch: list[Any] = consumer.consume(settings.batch, timeout=timeout)
        now = time.monotonic()
        if outage.down or not batch:
            # Once a second: is the topic quiet, or the broker gone (or back)? Messages
            # say nothing: they may have been fetched before it went.
            reachable = self._probe.reachable(consumer, loop.where)
            if outage.down:
                if reachable is True:
                    outage.back()
                    merge.watermarks.reconnected(self._clock, settings.outage_grace_s)
                    loop.unheard = set(loop.where)
                    loop.grace_end = now + settings.idle_timeout_s
                    loop.hold_until = now + settings.outage_grace_s
                elif not batch:
                    # No broker answers: its silence says nothing of the data. Neither
                    # the poll clock (partitions would look idle), nor the idle limit,
                    # nor idle ticks (event time would follow the wall clock) move.
                    loop.last_message = now
                    return None
        # The poll clock: only time spent waiting on the broker can make a partition
        # idle, never the time the pipeline spent on what was released.
        self._clock += now - before
        if before < loop.hold_until:  # producers may not be back yet: see listened_s
            self._held += min(now, loop.hold_until) - before
        return batch, now

    def _take(self, batch: list[Any], merge: PartitionMerge, loop: _Loop, now_ms: int,
              ) -> bool:
        """Offer the fetched messages to the partitions' gates (the ingest clock
        ``now_ms``); whether any carried a value."""
        clock = self._clock
        where, fetched, unheard = loop.where, loop.fetched, loop.unheard
        end_of_partition = loop.end_of_partition
        got = False
        for message in batch:
            tp = (message.topic(), message.partition())
            error = message.error()
            if unheard and (error is None or error.code() == end_of_partition):
                unheard.discard(tp)
            if error is not None:
                if error.code() == end_of_partition:
                    if tp in where and message.offset() >= fetched.get(tp, 0):
                        merge.reached_end(tp, clock)
                    continue
                if error.fatal():
                    msg = f"Kafka consumer on {self.config.bootstrap} failed: {error.str()}"
                    raise KafkaError(msg)
                continue  # transient: librdkafka retries by itself
            if tp not in where:
                continue
            offset = message.offset()
            fetched[tp] = offset + 1
            value = message.value()
            if value is None:  # a tombstone carries no event
                merge.watermarks.untimed(tp)
                continue
            got = True
            # As a file line is: surrounding whitespace is no part of the event (nor of
            # a dead letter's raw text).
            value = value.strip()
            loop.gates.add(tp, event_time(loop.decoder, value), value, offset, now_ms, clock)
        return got

    def _release(self, merge: PartitionMerge, where: dict[Partition, int],
                 gates: PartitionGates) -> Generator[Message | Refusal, None, bool]:
        """The messages the merge releases, each with the position after it (a refused
        one as a :class:`Refusal`); whether there were any."""
        emitted = False
        refusal = gates.refusal
        for tp, value, offset in merge.ready(self._clock):
            where[tp] = offset + 1
            emitted = True
            self.messages += 1
            position = KafkaPosition(dict(where), merge.watermarks.snapshot())
            reason = refusal(tp, offset)
            yield (value, position) if reason is None else Refusal(value, position, reason)
        return emitted

    def _flow_control(self, consumer: Any, merge: PartitionMerge,
                      paused: set[Partition], high: int) -> None:
        """Pause partitions far ahead so the fetcher serves the others (and memory stays
        bounded); resume them once drained to a quarter."""
        confluent = kafka()
        for tp in list(paused):
            if merge.buffered(tp) < high // 4:
                consumer.resume([confluent.TopicPartition(*tp)])
                paused.discard(tp)
                merge.resumed(tp, self._clock)
        if len(merge) > high:
            for tp in merge.partitions:
                if tp not in paused and merge.buffered(tp) > high:
                    consumer.pause([confluent.TopicPartition(*tp)])
                    paused.add(tp)

    def _discover(self, consumer: Any, merge: PartitionMerge,
                  where: dict[Partition, int]) -> None:
        """Read the partitions that appeared since the start, from their beginning."""
        confluent = kafka()
        try:
            listed = consumer.list_topics(timeout=5).topics
        except confluent.KafkaException as exc:
            _LOG.warning("cannot list the partitions of %s: %s",
                         ",".join(self.config.input_topics), describe(exc))
            return
        new = [(topic, p) for topic in self.config.input_topics
               if topic in listed and listed[topic].error is None
               for p in sorted(listed[topic].partitions) if (topic, p) not in where]
        if not new:
            return
        beginning = confluent.OFFSET_BEGINNING
        consumer.incremental_assign([confluent.TopicPartition(t, p, beginning)
                                     for t, p in new])
        for tp in new:
            where[tp] = beginning
            merge.assign(tp, self._clock)
        _LOG.info("reading new partitions %s", ", ".join(f"{t}[{p}]" for t, p in new))

    def commit(self, position: KafkaPosition | dict[Partition, int]) -> None:
        """Commit ``position`` to the consumer group (a durable checkpoint covers it)."""
        if self._consumer is not None:
            commit_offsets(self._consumer, self.config, position.offsets
                           if isinstance(position, KafkaPosition) else position)

    def lag(self) -> dict[Partition, int]:
        """Messages behind the end of each assigned partition
        (:func:`~shopstream.connectors.kafka_offsets.consumer_lag`)."""
        return {} if self._consumer is None else consumer_lag(self._consumer)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
