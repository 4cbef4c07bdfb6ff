"""The consumer group's offsets for a Kafka source: where each partition starts
(:func:`start_offsets`), committing a checkpointed position (:func:`commit_offsets`), and
how far behind the end of each partition the consumer is (:func:`consumer_lag`).

Split from :mod:`~shopstream.connectors.kafka_source`, whose :class:`KafkaSource` calls
them with its librdkafka consumer. Offsets are committed only for a position a durable
checkpoint covers, so the group's offsets never run ahead of what a resume would read.

Examples
--------
A partition not read yet (``OFFSET_BEGINNING``, -2) has nothing to commit:

>>> listed_offsets({("events", 0): 12, ("events", 1): -2})
[('events', 0, 12)]
"""

from __future__ import annotations

import logging
from typing import Any

from shopstream.connectors.kafka_admin import KafkaConfig, KafkaError, describe, kafka
from shopstream.connectors.partition_watermarks import Partition

__all__ = ["commit_offsets", "consumer_lag", "listed_offsets", "start_offsets"]

_LOG = logging.getLogger("shopstream.kafka")


def start_offsets(consumer: Any, config: KafkaConfig, partitions: list[Partition],
                  position: dict[Partition, int]) -> dict[Partition, int]:
    """Where each of ``partitions`` starts, in order of preference: ``position`` (the
    checkpoint's), the offset the group committed, the beginning. One broker request,
    for the partitions the checkpoint lacks (bounded by its 10 s timeout); a
    :class:`KafkaError` naming the group and broker when it fails.

    Examples
    --------
    Partitions the checkpoint holds start there, without asking the broker (none
    listens here):

    >>> consumer = _example_consumer()
    >>> start_offsets(consumer, KafkaConfig("127.0.0.1:9"), [("events", 0), ("events", 1)],
    ...               {("events", 0): 12, ("events", 1): 0})
    {('events', 0): 12, ('events', 1): 0}
    >>> consumer.close()
    """
    confluent = kafka()
    unknown = [tp for tp in partitions if tp not in position]
    committed: dict[Partition, int] = {}
    if unknown:
        try:
            found = consumer.committed(
                [confluent.TopicPartition(t, p) for t, p in unknown], timeout=10)
        except confluent.KafkaException as exc:
            msg = (f"cannot read the committed offsets of group {config.group!r} "
                   f"on {config.bootstrap}: {describe(exc)}")
            raise KafkaError(msg) from None
        committed = {(tp.topic, tp.partition): tp.offset for tp in found if tp.offset >= 0}
    beginning = confluent.OFFSET_BEGINNING
    return {tp: position.get(tp, committed.get(tp, beginning)) for tp in partitions}


def listed_offsets(offsets: dict[Partition, int]) -> list[tuple[str, int, int]]:
    """The (topic, partition, offset) to commit of ``offsets``: those read at least once.

    Examples
    --------
    >>> listed_offsets({("events", 2): 0, ("events", 0): -1001})
    [('events', 2, 0)]
    """
    return [(t, p, o) for (t, p), o in offsets.items() if o >= 0]


def commit_offsets(consumer: Any, config: KafkaConfig, offsets: dict[Partition, int]) -> None:
    """Commit ``offsets`` to the group, synchronously (one broker request). A failure is
    a warning only: the checkpoint already holds the position, so a failed commit only
    makes the group's lag look larger until the next one succeeds.

    Examples
    --------
    Partitions never read (librdkafka's logical offsets, below 0) are not committed;
    with none left there is no broker request at all (none listens here):

    >>> consumer = _example_consumer()
    >>> commit_offsets(consumer, KafkaConfig("127.0.0.1:9"), {("events", 0): -2})
    >>> consumer.close()
    """
    confluent = kafka()
    listed = [confluent.TopicPartition(t, p, o) for t, p, o in listed_offsets(offsets)]
    if not listed:
        return
    try:
        consumer.commit(offsets=listed, asynchronous=False)
    except confluent.KafkaException as exc:
        _LOG.warning("offset commit to group %r failed: %s", config.group, describe(exc))


def consumer_lag(consumer: Any) -> dict[Partition, int]:
    """Messages behind the end of each assigned partition: the partition's end offset
    (high watermark) minus the consumer's position, from the consumer's cached fetch
    state (no broker round trip: safe to call from a metrics thread; one entry per
    assigned partition). Brokers that report end offsets wrongly (tansu) give a wrong
    lag too.

    Examples
    --------
    A partition whose end offset the consumer has not heard yet (here no broker
    listens) has no entry, rather than a made-up lag:

    >>> consumer = _example_consumer()
    >>> consumer.assign([kafka().TopicPartition("events", 0, 5)])
    >>> consumer_lag(consumer)
    {}
    >>> consumer.close()
    """
    lags: dict[Partition, int] = {}
    for tp in consumer.position(consumer.assignment()):
        _, high = consumer.get_watermark_offsets(tp, cached=True)
        if high is None or high < 0:
            continue
        at = tp.offset if tp.offset >= 0 else 0
        lags[(tp.topic, tp.partition)] = max(high - at, 0)
    return lags


def _example_consumer() -> Any:
    """A librdkafka consumer of a broker nobody runs, quiet: the examples' consumer."""
    return kafka().Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "example",
                             "enable.auto.commit": False, "log_level": 0})
