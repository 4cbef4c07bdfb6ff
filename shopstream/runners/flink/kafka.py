"""Kafka input and output of a Flink job, through the Flink Kafka connector.

The connector is not part of PyFlink: its jars are given by path (``--flink-connector-jar``,
repeatable, or ``SHOPSTREAM_FLINK_CONNECTOR_JARS``, paths separated by ``:``). The official
artifacts are ``org.apache.flink:flink-connector-kafka:4.0.1-2.0`` and
``org.apache.kafka:kafka-clients:3.9.1`` on Maven Central; ``docs/flink.md`` says how to
take the same jars from the PyPI redistribution ``shigawire-apache-flink-libraries``.

Input lines are the record values of ``input_topics`` (one JSON event each), read from the
earliest offset (then from the checkpointed ones) by a source at parallelism 1, so the
decoder sees one order. Bounded reads stop at ``stop_offsets`` (exclusive, per partition):
tests give them explicitly because some brokers (tansu) under-report the latest offset
after batched produce. Output records go to the topic named like their stream, at least
once (Flink's ``AT_LEAST_ONCE`` delivery: flushed at every checkpoint).

Examples
--------
>>> config = FlinkKafkaConfig("127.0.0.1:9092", ("shopper-events",),
...                           jars=("/j/kafka.jar",), stop_offsets=(("shopper-events", 0, 120),))
>>> config.bounded, config.stop_total
(True, 120)
>>> FlinkKafkaConfig("127.0.0.1:9092", ())
Traceback (most recent call last):
...
shopstream.errors.ConfigError: FlinkKafkaConfig.input_topics must name at least one topic
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.errors import ConfigError

__all__ = ["CONNECTOR_JARS_ENV", "MAVEN_ARTIFACTS", "FlinkKafkaConfig", "connector_jars",
           "kafka_sink", "kafka_source"]

#: Environment variable with the connector jars (``:``-separated), when no option names them.
CONNECTOR_JARS_ENV = "SHOPSTREAM_FLINK_CONNECTOR_JARS"

#: The official Maven coordinates of what the Kafka connector needs (Flink 2.x).
MAVEN_ARTIFACTS = ("org.apache.flink:flink-connector-kafka:4.0.1-2.0",
                   "org.apache.kafka:kafka-clients:3.9.1")


def connector_jars(given: list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The connector jars: ``given``, else ``$SHOPSTREAM_FLINK_CONNECTOR_JARS``; each must exist.

    Examples
    --------
    >>> connector_jars([])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: Kafka on Flink needs the Flink Kafka connector: ...
    """
    jars = tuple(given or ())
    if not jars:
        jars = tuple(p for p in os.environ.get(CONNECTOR_JARS_ENV, "").split(os.pathsep) if p)
    if not jars:
        msg = ("Kafka on Flink needs the Flink Kafka connector: give --flink-connector-jar "
               f"PATH (repeatable) or {CONNECTOR_JARS_ENV}, the jars of "
               f"{' and '.join(MAVEN_ARTIFACTS)} (see docs/flink.md)")
        raise ConfigError(msg)
    for jar in jars:
        if not Path(jar).is_file():
            msg = f"--flink-connector-jar: {jar!r} is not a file"
            raise ConfigError(msg)
    return tuple(str(Path(j).resolve()) for j in jars)


@dataclass(frozen=True)
class FlinkKafkaConfig:
    """Where a Flink job reads its events and writes its streams.

    Parameters
    ----------
    bootstrap
        ``HOST:PORT`` of the brokers.
    input_topics
        Topics of JSON events.
    group
        Consumer group (offsets are committed to it at each checkpoint, for monitoring;
        the job restores from its own checkpointed offsets).
    jars
        The connector jars (:func:`connector_jars`).
    stop_offsets
        ``(topic, partition, offset)``: read up to these offsets and end the job (a bounded
        read); default: read for ever.
    """

    bootstrap: str
    input_topics: tuple[str, ...]
    group: str = "shopstream"
    jars: tuple[str, ...] = ()
    stop_offsets: tuple[tuple[str, int, int], ...] | None = None

    def __post_init__(self) -> None:
        if not self.input_topics:
            msg = "FlinkKafkaConfig.input_topics must name at least one topic"
            raise ConfigError(msg)
        for topic, partition, offset in self.stop_offsets or ():
            if partition < 0 or offset < 0:
                msg = (f"FlinkKafkaConfig.stop_offsets: partition and offset must be >= 0, "
                       f"got {(topic, partition, offset)!r}")
                raise ConfigError(msg)

    @property
    def bounded(self) -> bool:
        return self.stop_offsets is not None

    @property
    def stop_total(self) -> int:
        """Records a bounded read takes, when every topic starts at offset 0."""
        return sum(offset for _, _, offset in self.stop_offsets or ())

    @property
    def origin(self) -> str:
        """What dead letters name as their source."""
        return f"kafka://{self.bootstrap}/{','.join(self.input_topics)}"


def kafka_source(env: Any, config: FlinkKafkaConfig) -> Any:
    """A DataStream of the record values (strings) of ``config.input_topics``."""
    from pyflink.common import WatermarkStrategy
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import get_java_class

    builder = KafkaSource.builder() \
        .set_bootstrap_servers(config.bootstrap) \
        .set_topics(*config.input_topics) \
        .set_group_id(config.group) \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()) \
        .set_value_only_deserializer(SimpleStringSchema())
    if config.stop_offsets is not None:
        # PyFlink's KafkaOffsetsInitializer.offsets() builds TopicPartitions of the shaded
        # SQL connector; the plain connector wants Kafka's own class.
        # py4j turns small Python ints into Integers; the wrapper stores Longs.
        jvm = get_gateway().jvm
        offsets = jvm.org.apache.flink.python.util.HashMapWrapper(
            None, get_java_class(jvm.Long))
        for topic, partition, offset in config.stop_offsets:
            offsets.put(jvm.org.apache.kafka.common.TopicPartition(topic, partition), offset)
        initializer = jvm.org.apache.flink.connector.kafka.source.enumerator.initializer \
            .OffsetsInitializer.offsets(offsets.asMap())
        builder._j_builder.setBounded(initializer)
    # A Python TimestampAssigner here would be ignored: event time comes after decoding.
    return env.from_source(builder.build(), WatermarkStrategy.no_watermarks(), "kafka-events")


def kafka_sink(stream: Any, config: FlinkKafkaConfig) -> Any:
    """Send ``Row(stream name, json)`` records to the topic named like the stream, at least
    once, without a Python operator (the topic is the row's first column)."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import get_java_class

    jvm = get_gateway().jvm
    kafka_sink_pkg = jvm.org.apache.flink.connector.kafka.sink
    utils = jvm.org.apache.flink.python.util.PythonConnectorUtils
    serializer = kafka_sink_pkg.KafkaRecordSerializationSchema.builder() \
        .setTopicSelector(utils.createFirstColumnTopicSelector(
            get_java_class(kafka_sink_pkg.TopicSelector))) \
        .setValueSerializationSchema(utils.SecondColumnSerializationSchema(
            SimpleStringSchema()._j_serialization_schema)) \
        .build()
    guarantee = jvm.org.apache.flink.connector.base.DeliveryGuarantee.AT_LEAST_ONCE
    j_sink = kafka_sink_pkg.KafkaSink.builder() \
        .setBootstrapServers(config.bootstrap) \
        .setRecordSerializer(serializer) \
        .setDeliveryGuarantee(guarantee) \
        .build()
    return DataStream(stream._j_data_stream.sinkTo(j_sink))
