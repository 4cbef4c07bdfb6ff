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
    :class:`KafkaError` naming the group and broker when it fails."""
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
    """The (topic, partition, offset) to commit of ``offsets``: those read at least once."""
    return [(t, p, o) for (t, p), o in offsets.items() if o >= 0]


def commit_offsets(consumer: Any, config: KafkaConfig, offsets: dict[Partition, int]) -> None:
    """Commit ``offsets`` to the group, synchronously (one broker request). A failure is
    a warning only: the checkpoint already holds the position, so a failed commit only
    makes the group's lag look larger until the next one succeeds."""
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
    lag too."""
    lags: dict[Partition, int] = {}
    for tp in consumer.position(consumer.assignment()):
        _, high = consumer.get_watermark_offsets(tp, cached=True)
        if high is None or high < 0:
            continue
        at = tp.offset if tp.offset >= 0 else 0
        lags[(tp.topic, tp.partition)] = max(high - at, 0)
    return lags
