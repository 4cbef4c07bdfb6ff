"""A :class:`~shopstream.topology.Topology` as a PyFlink DataStream job.

::

    FileSource (lines) -> decode (p=1) -> timestamps + bounded watermarks (Java, one per
    events path) -> keyBy (Java) -> stage (KeyedProcessFunction) -> keyBy -> stage ... ;
    broadcast inputs -> broadcast -> stage (KeyedBroadcastProcessFunction) -> demux ;
    every sink line -> writer (p=1)

Producers compute the key of each consumer and send ``Row(key, (timestamp_ms, record))``
(:data:`~shopstream.runners.flink.tags.KEYED_TYPE`), which Flink's Java key selector
partitions; broadcast inputs get ``(timestamp_ms, record)`` pairs. Stages reading the same
streams with the same key run fused, as one Flink operator
(:func:`~shopstream.runners.flink.support.fuse`) whose uid is its first stage's
:attr:`~shopstream.topology.Stage.uid`. With thread mode's one interpreter, every Python
operator a record passes costs throughput, so the job adds none of its own (no
key-extraction maps, no identity maps on side outputs, no Python timestamp extraction)
but the demultiplexer behind each broadcast stage (see
:mod:`~shopstream.runners.flink.broadcast`).

Every path of events from the decoder is watermarked by the same bounded-out-of-orderness
strategy, so every stage's watermark follows event time while the job runs (from a file or
from Kafka). Catalog changes follow the topology's
:class:`~shopstream.topology.WatermarkPolicy`: they reach their readers through the first
stage group reading events, never moving the watermark (see
:class:`~shopstream.runners.flink.functions.DecodeFunction`).

A stage reads a stream from the stages declared before it (and ``events`` from the
source), so producers come first in the topology, as in :func:`shopstream.pipeline.
default_topology`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.datastream import DataStream, KeyedStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.datastream.functions import NullByteKeySelector
from pyflink.java_gateway import get_gateway

from shopstream.events import streams
from shopstream.events.limits import InputLimits
from shopstream.runners.flink.broadcast import (
    BROADCAST_STATE,
    BroadcastStageFunction,
    Demux,
    SinkBroadcastStageFunction,
)
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.functions import (
    DecodeFunction,
    JsonlWriter,
    PlainDecodeFunction,
)
from shopstream.runners.flink.kafka import FlinkKafkaConfig, kafka_sink, kafka_source
from shopstream.runners.flink.stage import StageFunction
from shopstream.runners.flink.support import check_supported, fuse, main_group
from shopstream.runners.flink.tags import (
    DECODED_TYPE,
    KEYED_TYPE,
    SINK_TAG,
    Route,
    broadcast_tag,
    events_tag,
    stage_tag,
)
from shopstream.topology import Stage, Topology

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


def _event_time(j_stream: Any, strategy: Any, name: str) -> DataStream:
    """``(keyed record, timestamp)`` with Flink's Java timestamp assigner and bounded
    watermarks, then the keyed record alone."""
    gateway = get_gateway()
    python_time = gateway.jvm.org.apache.flink.streaming.api.functions.python.eventtime
    j_events = j_stream.assignTimestampsAndWatermarks(
        strategy._j_watermark_strategy.withTimestampAssigner(
            python_time.CustomTimestampAssigner())) \
        .map(python_time.RemoveTimestampMapFunction(), KEYED_TYPE.get_java_type_info())
    return DataStream(j_events).name(name).uid(name)


def _routes(heads: list[Stage], g: int) -> tuple[Route, ...]:
    # Every stream a later group reads (but events) may come from this one: operators do not
    # declare what they emit. Keyed inputs carry the consumer's key function, broadcast
    # inputs None.
    return tuple(
        [(stream, later, heads[later].key_by)
         for later in range(g + 1, len(heads))
         for stream in heads[later].inputs if stream != streams.EVENTS]
        + [(stream, later, None)
           for later in range(g + 1, len(heads))
           for stream in heads[later].broadcast_inputs])


@dataclass(frozen=True)
class _Plan:
    """What every part of the job needs to know of the topology's stage groups."""

    topology: Topology
    groups: list[tuple[int, ...]]
    heads: list[Stage]
    sink_streams: tuple[str, ...]
    held_keys: int

    @property
    def sinks(self) -> frozenset[str]:
        return frozenset(self.sink_streams)


def build_job(env: StreamExecutionEnvironment, topology: Topology, input_path: str,
              output_dir: str, out_of_orderness_ms: int, origin: str | None = None,
              limits: InputLimits | None = None, kafka: FlinkKafkaConfig | None = None,
              checkpointed: bool = False, held_keys: int = 0) -> None:
    """Add the job for ``topology`` over the JSONL file ``input_path`` to ``env``, or
    over ``kafka``'s topics into topics named like the streams; dead letters name their
    source ``origin`` (default: ``input_path`` or the Kafka topics); the decoder checks
    ``limits`` and, when ``checkpointed``, keeps its progress in keyed state. Stages keep
    the values of up to ``held_keys`` keys per value state in Python only (see
    :class:`~shopstream.runners.flink.state.KeyCursor`): give it only for a job that no
    checkpoint or savepoint will snapshot."""
    check_supported(topology)
    groups = fuse(topology)
    plan = _Plan(topology, groups, [topology.stages[group[0]] for group in groups],
                 (*topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS),
                 held_keys)
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
    inputs, decode_sinks = _decode(plan, lines, origin or input_path, out_of_orderness_ms,
                                   limits, checkpointed)
    env.set_parallelism(parallelism)
    broadcasts: dict[int, list[DataStream]] = {}
    sink_parts: list[DataStream] = [decode_sinks]
    for g in range(len(groups)):
        sink_parts.append(_stage_group(plan, g, inputs, broadcasts))
    env.set_parallelism(1)
    if kafka is None:
        _union(sink_parts).process(JsonlWriter(output_dir, plan.sink_streams)) \
            .name("jsonl-writer").uid("jsonl-writer")
    else:
        kafka_sink(_union(sink_parts), kafka).name("kafka-sink").uid("kafka-sink")
    env.set_parallelism(parallelism)


def _decode(plan: _Plan, lines: DataStream, origin: str, out_of_orderness_ms: int,
            limits: InputLimits | None, checkpointed: bool
            ) -> tuple[dict[int, list[DataStream]], DataStream]:
    """The decoder and event time: each group reading events gets its watermarked input
    (the first the decoder's main output, the others a side output each, keyed for them
    and watermarked on their own); also the decoder's sink records."""
    heads = plan.heads
    on_events = [g for g, head in enumerate(heads) if streams.EVENTS in head.inputs]
    main = main_group(plan.topology, plan.groups)
    main_key = heads[main].key_by if main is not None else (lambda _: "")
    event_routes: tuple[Route, ...] = tuple(
        (streams.EVENTS, g, heads[g].key_by) for g in on_events[1:])
    read = {s for h in heads for s in (*h.inputs, *h.broadcast_inputs)}
    forward = frozenset(p.stream for p in plan.topology.watermark_policies if p.stream in read)
    decoder_args = (origin, out_of_orderness_ms, plan.sinks, main_key, event_routes,
                    limits, plan.topology.watermark_policies, forward)
    if checkpointed:
        # One constant key gives the decoder keyed state that checkpoints hold. (PyFlink's
        # keyed operators want Row keys, which no Java selector makes from a line.)
        decoded = lines.key_by(NullByteKeySelector(), key_type=Types.BYTE()).process(
            DecodeFunction(*decoder_args), output_type=DECODED_TYPE)
    else:
        decoded = lines.process(PlainDecodeFunction(*decoder_args), output_type=DECODED_TYPE)
    decoded = decoded.name("decode").uid("decode")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_millis(out_of_orderness_ms))
    inputs: dict[int, list[DataStream]] = {}
    if main is not None:
        inputs[main] = [_event_time(decoded._j_data_stream, strategy, "event-time")]
    for g in on_events[1:]:
        side = decoded._j_data_stream.getSideOutput(events_tag(g).get_java_output_tag())
        inputs[g] = [_event_time(side, strategy, f"event-time-{heads[g].uid}")]
    return inputs, _side_output(decoded, SINK_TAG)


def _stage_group(plan: _Plan, g: int, inputs: dict[int, list[DataStream]],
                 broadcasts: dict[int, list[DataStream]]) -> DataStream:
    """Group ``g`` as one Flink operator over its ``inputs``; what it sends later groups
    goes into ``inputs`` and ``broadcasts``; returns its sink records."""
    stages, heads, group = plan.topology.stages, plan.heads, plan.groups[g]
    head = heads[g]
    names = "+".join(stages[i].name for i in group)
    parts = inputs.get(g)
    if not parts:
        msg = (f"stage {head.name!r} reads {', '.join(head.inputs)}, which no stage "
               "declared before it produces (on Flink producers come first)")
        raise FlinkUnsupportedError(msg)
    routes = _routes(heads, g)
    routed = {stream for stream, _, _ in routes}
    earlier = {s for h in heads[:g + 1] for s in (*h.inputs, *h.broadcast_inputs)} \
        - routed - {streams.EVENTS}
    function_args = (tuple(stages[i].operator for i in group), routes, plan.sinks,
                     frozenset(earlier), tuple(stages[i].event_time_order for i in group),
                     plan.held_keys, head.key_by)
    keyed = _keyed(_union(parts))
    # A broadcast input no stage produces (profile-models, which the retrain job
    # publishes into an embedded pipeline) brings nothing here: a plain keyed stage.
    sources = broadcasts.get(g)
    if sources and not routes:
        # Nothing but sinks reads its outputs: its main output is the sink rows.
        return keyed.connect(_union(sources).broadcast(BROADCAST_STATE)) \
            .process(SinkBroadcastStageFunction(*function_args),
                     output_type=SINK_TAG.type_info) \
            .name(names).uid(head.uid)
    if sources:
        tag_names = (SINK_TAG.tag_id, *sorted(
            {(stage_tag(t) if key_by is not None else broadcast_tag(t)).tag_id
             for _, t, key_by in routes}))
        out = keyed.connect(_union(sources).broadcast(BROADCAST_STATE)) \
            .process(BroadcastStageFunction(*function_args),
                     output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(names).uid(head.uid) \
            .process(Demux(tag_names), output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(f"{names}-demux").uid(f"{head.uid}-demux")
    else:
        out = keyed.process(StageFunction(*function_args),
                            output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(names).uid(head.uid)
    for later in sorted({t for _, t, key_by in routes if key_by is not None}):
        inputs.setdefault(later, []).append(_side_output(out, stage_tag(later)))
    for later in sorted({t for _, t, key_by in routes if key_by is None}):
        broadcasts.setdefault(later, []).append(_side_output(out, broadcast_tag(later)))
    return _side_output(out, SINK_TAG)
