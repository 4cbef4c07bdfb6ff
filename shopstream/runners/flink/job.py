"""A :class:`~shopstream.topology.Topology` as a PyFlink DataStream job.

::

    FileSource (lines) -> decode (p=1) -> timestamps + bounded watermarks (Java) ->
    keyBy (Java) -> stage (KeyedProcessFunction) -> keyBy -> stage ... ;
    every sink line -> writer (p=1)

Producers compute the key of each consumer and send ``Row(key, (timestamp_ms, record))``
(:data:`~shopstream.runners.flink.functions.KEYED_TYPE`), which Flink's Java key selector
partitions. Stages reading the same streams with the same key run fused, as one Flink
operator (:func:`fuse`). With thread mode's one interpreter, every Python operator a record passes
costs throughput, so the job adds none of its own (no key-extraction maps, no
identity maps on side outputs, no Python timestamp extraction).

A stage reads a stream from the stages declared before it (and ``events`` from the
source), so producers come first in the topology, as in :func:`shopstream.pipeline.
default_topology`. Stages with broadcast inputs are not supported yet.
"""

from __future__ import annotations

from typing import Any

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.datastream.functions import NullByteKeySelector
from pyflink.java_gateway import get_gateway

from shopstream.events import streams
from shopstream.events.limits import InputLimits
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.functions import (
    KEYED_TYPE,
    SINK_TAG,
    DecodeFunction,
    JsonlWriter,
    PlainDecodeFunction,
    Route,
    StageFunction,
    stage_tag,
)
from shopstream.runners.flink.kafka import FlinkKafkaConfig, kafka_sink, kafka_source
from shopstream.runners.flink.support import check_supported
from shopstream.topology import Topology

__all__ = ["build_job", "fuse"]


def _side_output(stream: DataStream, tag: Any) -> DataStream:
    # PyFlink's get_side_output adds a Python identity map; in thread mode the side output
    # already holds the tag's type, so take it as it is.
    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))


def _keyed(stream: DataStream) -> KeyedStream:
    gateway = get_gateway()
    j_keyed = stream._j_data_stream.keyBy(
        gateway.jvm.KeyByKeySelector(), Types.ROW([Types.STRING()]).get_java_type_info())
    return KeyedStream(j_keyed, Types.PICKLED_BYTE_ARRAY(), stream)


def _union(parts: list[DataStream]) -> DataStream:
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def fuse(topology: Topology) -> list[tuple[int, ...]]:
    """Stages that read the same streams with the same key function, grouped (in the
    order of each group's first stage): each group runs as one Flink operator.

    Examples
    --------
    >>> from shopstream.pipeline import PipelineConfig, default_topology
    >>> topo = default_topology(PipelineConfig(recommendations=None))
    >>> [[topo.stages[i].name for i in group] for group in fuse(topo)]
    [['baskets', 'abandonment'], ['fraud'], ['revenue', 'top-products', 'rules']]
    """
    groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for index, stage in enumerate(topology.stages):
        groups.setdefault((stage.inputs, id(stage.key_by)), []).append(index)
    return [tuple(group) for group in groups.values()]


def build_job(env: StreamExecutionEnvironment, topology: Topology, input_path: str,
              output_dir: str, out_of_orderness_ms: int, origin: str | None = None,
              limits: InputLimits | None = None, kafka: FlinkKafkaConfig | None = None,
              checkpointed: bool = False) -> None:
    """Add the job for ``topology`` over the JSONL file ``input_path`` to ``env``, or
    over ``kafka``'s topics into topics named like the streams; dead letters name their
    source ``origin`` (default: ``input_path`` or the Kafka topics); the decoder checks
    ``limits`` and, when ``checkpointed``, keeps its progress in keyed state."""
    check_supported(topology)
    stages = topology.stages
    groups = fuse(topology)
    heads = [stages[group[0]] for group in groups]
    sink_streams = (*topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS)
    sinks = frozenset(sink_streams)
    # Groups reading events: the first takes the decoder's main output (watermarked); the
    # others get a side output each, keyed for them.
    on_events = [g for g, head in enumerate(heads) if streams.EVENTS in head.inputs]
    main_key = heads[on_events[0]].key_by if on_events else (lambda _: "")
    event_routes: tuple[Route, ...] = tuple(
        (streams.EVENTS, g, heads[g].key_by) for g in on_events[1:])

    parallelism = env.get_parallelism()
    # Reading, decoding and event time run at 1, in file order (the exact late-event rule
    # needs it); operators take their parallelism when created, hence the switch.
    env.set_parallelism(1)
    if kafka is None:
        source = FileSource.for_record_stream_format(
            StreamFormat.text_line_format(), input_path).build()
        # A Python TimestampAssigner given to from_source is ignored: the decoder pairs each
        # record with its time, which Flink's own Java assigner reads.
        lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "events-file") \
            .uid("events-file")
    else:
        lines = kafka_source(env, kafka).uid("kafka-events")
        origin = origin or kafka.origin
    decoder_args = (origin or input_path, out_of_orderness_ms, sinks, main_key, event_routes,
                    limits)
    decoded_type = Types.TUPLE([KEYED_TYPE, Types.LONG()])
    if checkpointed:
        # One constant key gives the decoder keyed state that checkpoints hold. (PyFlink's
        # keyed operators want Row keys, which no Java selector makes from a line.)
        decoded = lines.key_by(NullByteKeySelector(), key_type=Types.BYTE()).process(
            DecodeFunction(*decoder_args), output_type=decoded_type)
    else:
        decoded = lines.process(PlainDecodeFunction(*decoder_args), output_type=decoded_type)
    decoded = decoded.name("decode").uid("decode")
    gateway = get_gateway()
    python_time = gateway.jvm.org.apache.flink.streaming.api.functions.python.eventtime
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_millis(out_of_orderness_ms))
    j_events = decoded._j_data_stream.assignTimestampsAndWatermarks(
        strategy._j_watermark_strategy.withTimestampAssigner(
            python_time.CustomTimestampAssigner())) \
        .map(python_time.RemoveTimestampMapFunction(), KEYED_TYPE.get_java_type_info())
    events = DataStream(j_events).name("event-time").uid("event-time")
    decode_sinks = _side_output(decoded, SINK_TAG)
    env.set_parallelism(parallelism)

    inputs: dict[int, list[DataStream]] = {}
    if on_events:
        inputs[on_events[0]] = [events]
    for g in on_events[1:]:
        inputs[g] = [_side_output(decoded, stage_tag(g))]
    sink_parts: list[DataStream] = [decode_sinks]
    for g, group in enumerate(groups):
        head = heads[g]
        names = "+".join(stages[i].name for i in group)
        parts = inputs.get(g)
        if not parts:
            msg = (f"stage {head.name!r} reads {', '.join(head.inputs)}, which no stage "
                   "declared before it produces (on Flink producers come first)")
            raise FlinkUnsupportedError(msg)
        # Every stream a later group reads (but events) may come from this one: operators
        # do not declare what they emit.
        routes: tuple[Route, ...] = tuple(
            (stream, later, heads[later].key_by)
            for later in range(g + 1, len(groups))
            for stream in heads[later].inputs if stream != streams.EVENTS)
        routed = {stream for stream, _, _ in routes}
        earlier = {s for h in heads[:g + 1] for s in h.inputs} - routed
        operators = tuple(stages[i].operator for i in group)
        out = _keyed(_union(parts)) \
            .process(StageFunction(operators, routes, sinks, frozenset(earlier)),
                     output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(names).uid(names)
        for later in sorted({target for _, target, _ in routes}):
            inputs.setdefault(later, []).append(_side_output(out, stage_tag(later)))
        sink_parts.append(_side_output(out, SINK_TAG))
    env.set_parallelism(1)
    if kafka is None:
        _union(sink_parts).process(JsonlWriter(output_dir, sink_streams)) \
            .name("jsonl-writer").uid("jsonl-writer")
    else:
        kafka_sink(_union(sink_parts), kafka).name("kafka-sink").uid("kafka-sink")
    env.set_parallelism(parallelism)
