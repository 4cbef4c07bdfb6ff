"""Kafka topics as a :class:`~shopstream.runners.embedded.source.Source`.

The position after each message is a dict ``{(topic, partition): next_offset}`` over
every partition read. On start the source assigns itself every partition of the input
topics (one process reads them all, so no group rebalance can move a partition away in
the middle of a checkpoint) and seeks each to, in order of preference: the checkpointed
position, the offset the consumer group committed, the beginning. Offsets are committed
to the group only from :meth:`KafkaSource.commit`, which the runner calls once a
checkpoint covering them is durable: a crash replays, it never loses.

The source is unbounded: it yields an idle tick (``None``) whenever a poll brings
nothing, and ends only when :meth:`KafkaSource.stop` is called (``exhausted`` stays
``False``: timers wait for the resume) or, with ``stop_when_idle_s``, after that much
silence (``exhausted`` becomes ``True``: the input counts as complete, as at the end of a
file). End offsets are not used to decide anything: some Kafka-protocol brokers report
them wrongly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shopstream.connectors.kafka_admin import (
    KafkaConfig,
    KafkaError,
    describe,
    ensure_topics,
    kafka,
    wait_for_broker,
)
from shopstream.connectors.partition_merge import PartitionMerge
from shopstream.errors import ConfigError, SourceError

__all__ = ["KafkaPosition", "KafkaSource", "KafkaSourceConfig"]

_LOG = logging.getLogger("shopstream.kafka")

#: Where a Kafka source stands: the next offset to read of each partition.
KafkaPosition = dict[tuple[str, int], int]


@dataclass(frozen=True)
class KafkaSourceConfig:
    """How the source polls.

    Parameters
    ----------
    poll_timeout_s
        Longest wait of one poll; an empty poll yields an idle tick.
    batch
        Messages fetched per poll at most.
    stop_when_idle_s
        End the input (as complete) after this many seconds without a message;
        ``None`` (default) reads forever.
    align_s
        How long a partition that ran dry holds the others back (see
        :class:`~shopstream.connectors.partition_merge.PartitionMerge`); messages of
        several partitions are released in timestamp order.

    Examples
    --------
    >>> KafkaSourceConfig(stop_when_idle_s=0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: KafkaSourceConfig.stop_when_idle_s must be > 0, got 0
    """

    poll_timeout_s: float = 0.2
    batch: int = 1_000
    stop_when_idle_s: float | None = None
    align_s: float = 0.5

    def __post_init__(self) -> None:
        if self.poll_timeout_s <= 0:
            msg = f"KafkaSourceConfig.poll_timeout_s must be > 0, got {self.poll_timeout_s!r}"
            raise ConfigError(msg)
        if self.batch < 1:
            msg = f"KafkaSourceConfig.batch must be >= 1, got {self.batch!r}"
            raise ConfigError(msg)
        if self.align_s < 0:
            msg = f"KafkaSourceConfig.align_s must be >= 0, got {self.align_s!r}"
            raise ConfigError(msg)
        if self.stop_when_idle_s is not None and self.stop_when_idle_s <= 0:
            msg = ("KafkaSourceConfig.stop_when_idle_s must be > 0, got "
                   f"{self.stop_when_idle_s!r}")
            raise ConfigError(msg)


class KafkaSource:
    """The input topics of ``config``, read from a checkpointed position."""

    def __init__(self, config: KafkaConfig, source: KafkaSourceConfig | None = None) -> None:
        self.config = config
        self.source = source or KafkaSourceConfig()
        self._consumer: Any = None
        self._stop = threading.Event()
        self._exhausted = False
        self.messages = 0

    @property
    def name(self) -> str:
        """``kafka://BOOTSTRAP/topic,topic``, as dead letters name their source."""
        return f"kafka://{self.config.bootstrap}/{','.join(self.config.input_topics)}"

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def stop(self) -> None:
        """End the iterator at the next poll (safe from a signal handler or a thread)."""
        self._stop.set()

    def read(self, position: KafkaPosition | None) -> Iterator[tuple[bytes, KafkaPosition] | None]:
        """Messages (values) from ``position`` on, with the position after each."""
        confluent = kafka()
        if position is not None and not isinstance(position, dict):
            msg = (f"the checkpoint holds input position {position!r}, not Kafka offsets: it "
                   "was taken by a run over a file; use another --checkpoint-dir")
            raise SourceError(msg)
        admin = wait_for_broker(self.config)
        counts = ensure_topics(self.config, self.config.input_topics, admin)
        consumer = confluent.Consumer(self.config.client(**{
            "group.id": self.config.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # Group joins are slow on some brokers otherwise (and we never join: assign).
            "session.timeout.ms": 6000,
        }))
        self._consumer = consumer
        partitions = [(t, p) for t in self.config.input_topics for p in range(counts[t])]
        start = self._start_offsets(consumer, partitions, position or {})
        consumer.assign([confluent.TopicPartition(t, p, o) for (t, p), o in start.items()])
        return self._messages(consumer, dict(start))

    def _start_offsets(self, consumer: Any, partitions: list[tuple[str, int]],
                       position: KafkaPosition) -> KafkaPosition:
        confluent = kafka()
        unknown = [tp for tp in partitions if tp not in position]
        committed: KafkaPosition = {}
        if unknown:
            try:
                found = consumer.committed(
                    [confluent.TopicPartition(t, p) for t, p in unknown], timeout=10)
            except confluent.KafkaException as exc:
                msg = (f"cannot read the committed offsets of group {self.config.group!r} "
                       f"on {self.config.bootstrap}: {describe(exc)}")
                raise KafkaError(msg) from None
            committed = {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}
        beginning = confluent.OFFSET_BEGINNING
        return {tp: position.get(tp, committed.get(tp, beginning)) for tp in partitions}

    def _messages(self, consumer: Any, where: dict[tuple[str, int], int],
                  ) -> Iterator[tuple[bytes, KafkaPosition] | None]:
        # Partitions not read yet keep OFFSET_BEGINNING (-2) until their first message:
        # a resume then starts them from the beginning again, which is what it should do.
        settings = self.source
        confluent = kafka()
        idle_limit = settings.stop_when_idle_s
        merge = PartitionMerge(where, settings.align_s, time.monotonic())
        high = 4 * settings.batch
        paused: set[tuple[str, int]] = set()
        last_message = time.monotonic()
        stop = self._stop
        while not stop.is_set():
            # While messages wait for a partition to catch up, poll briefly.
            timeout = settings.poll_timeout_s if not len(merge) else 0.02
            batch = consumer.consume(settings.batch, timeout=timeout)
            now = time.monotonic()
            got = False
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.fatal():
                        msg = f"Kafka consumer on {self.config.bootstrap} failed: {error.str()}"
                        raise KafkaError(msg)
                    continue  # partition EOF, or transient: librdkafka retries by itself
                value = message.value()
                if value is None:  # a tombstone carries no event
                    continue
                got = True
                kind, stamp = message.timestamp()
                merge.add((message.topic(), message.partition()),
                          stamp if kind != confluent.TIMESTAMP_NOT_AVAILABLE else -1,
                          value, message.offset(), now)
            if got:
                last_message = now
            emitted = 0
            for partition, value, offset in merge.ready(now):
                where[partition] = offset + 1
                emitted += 1
                yield value, dict(where)
            merge.settle(time.monotonic())
            self.messages += emitted
            self._flow_control(consumer, merge, paused, high)
            if not emitted and not len(merge) and idle_limit is not None and (
                    time.monotonic() - last_message >= idle_limit):
                self._exhausted = True
                return
            if not emitted and not len(merge):
                # Idle ticks only when nothing waits for alignment: the runner moves the
                # watermark on after idle ticks, which must not overtake held messages.
                yield None

    def _flow_control(self, consumer: Any, merge: PartitionMerge,
                      paused: set[tuple[str, int]], high: int) -> None:
        """Pause partitions far ahead so the fetcher serves the others (and memory stays
        bounded); resume them once drained to a quarter."""
        confluent = kafka()
        for tp in list(paused):
            if merge.buffered(tp) < high // 4:
                consumer.resume([confluent.TopicPartition(*tp)])
                paused.discard(tp)
        if len(merge) > high:
            for tp in merge.partitions:
                if tp not in paused and merge.buffered(tp) > high:
                    consumer.pause([confluent.TopicPartition(*tp)])
                    paused.add(tp)

    def commit(self, position: KafkaPosition) -> None:
        """Commit ``position`` to the consumer group (a durable checkpoint covers it)."""
        consumer = self._consumer
        if consumer is None:
            return
        confluent = kafka()
        offsets = [confluent.TopicPartition(t, p, o) for (t, p), o in position.items() if o >= 0]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except confluent.KafkaException as exc:
            # The checkpoint already holds the position: a failed commit only means the
            # group's lag looks larger until the next one succeeds.
            _LOG.warning("offset commit to group %r failed: %s", self.config.group,
                         describe(exc))

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

