"""A :class:`~shopstream.topology.Topology` as a PyFlink DataStream job.

::

    FileSource (lines) -> decode (p=1) -> timestamps + bounded watermarks (Java) ->
    keyBy (Java) -> stage (KeyedProcessFunction) -> keyBy -> stage ... ;
    every sink line -> writer (p=1)

Producers compute the key of each consumer and send ``Row(key, (timestamp_ms, record))``
(:data:`~shopstream.runners.flink.functions.KEYED_TYPE`), which Flink's Java key selector
partitions: with thread mode's one interpreter, every Python operator a record passes
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
from pyflink.java_gateway import get_gateway

from shopstream.events import streams
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.functions import (
    KEYED_TYPE,
    SINK_TAG,
    DecodeFunction,
    JsonlWriter,
    Route,
    StageFunction,
    stage_tag,
)
from shopstream.runners.flink.support import check_supported
from shopstream.topology import Topology

__all__ = ["build_job"]


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


def build_job(env: StreamExecutionEnvironment, topology: Topology, input_path: str,
              output_dir: str, out_of_orderness_ms: int, origin: str | None = None) -> None:
    """Add the job for ``topology`` over the JSONL file ``input_path`` to ``env``;
    dead letters name their source ``origin`` (default: ``input_path``)."""
    check_supported(topology)
    stages = topology.stages
    sink_streams = (*topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS)
    sinks = frozenset(sink_streams)
    # Stages reading events: those keyed like the first take the decoder's main output
    # (watermarked); the others get a keyed side output each.
    on_events = [i for i, st in enumerate(stages) if streams.EVENTS in st.inputs]
    main_key = stages[on_events[0]].key_by if on_events else (lambda _: "")
    direct = [i for i in on_events if stages[i].key_by is main_key]
    event_routes: tuple[Route, ...] = tuple(
        (streams.EVENTS, i, stages[i].key_by) for i in on_events if i not in direct)

    parallelism = env.get_parallelism()
    # Reading, decoding and event time run at 1, in file order (the exact late-event rule
    # needs it); operators take their parallelism when created, hence the switch.
    env.set_parallelism(1)
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), input_path).build()
    # A Python TimestampAssigner given to from_source is ignored: the decoder pairs each
    # record with its time, which Flink's own Java assigner reads.
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "events-file") \
        .uid("events-file")
    decoded = lines.process(
        DecodeFunction(origin or input_path, out_of_orderness_ms, sinks, main_key,
                       event_routes),
        output_type=Types.TUPLE([KEYED_TYPE, Types.LONG()])).name("decode").uid("decode")
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

    inputs: dict[int, list[DataStream]] = {i: [events] for i in direct}
    for i in on_events:
        if i not in direct:
            inputs[i] = [_side_output(decoded, stage_tag(i))]
    sink_parts: list[DataStream] = [decode_sinks]
    for index, stage in enumerate(stages):
        parts = inputs.get(index)
        if not parts:
            msg = (f"stage {stage.name!r} reads {', '.join(stage.inputs)}, which no stage "
                   "declared before it produces (on Flink producers come first)")
            raise FlinkUnsupportedError(msg)
        # Every stream a later stage reads (but events) may come from this one: operators
        # do not declare what they emit.
        routes: tuple[Route, ...] = tuple(
            (stream, later, stages[later].key_by)
            for later in range(index + 1, len(stages))
            for stream in stages[later].inputs if stream != streams.EVENTS)
        routed = {stream for stream, _, _ in routes}
        earlier = {s for st in stages[:index + 1] for s in st.inputs} - routed
        out = _keyed(_union(parts)) \
            .process(StageFunction(stage.operator, routes, sinks, frozenset(earlier)),
                     output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(stage.name).uid(stage.name)
        for later in sorted({target for _, target, _ in routes}):
            inputs.setdefault(later, []).append(_side_output(out, stage_tag(later)))
        sink_parts.append(_side_output(out, SINK_TAG))
    env.set_parallelism(1)
    _union(sink_parts).process(JsonlWriter(output_dir, sink_streams)).name("jsonl-writer") \
        .uid("jsonl-writer")
    env.set_parallelism(parallelism)

