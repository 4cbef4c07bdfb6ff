"""A :class:`~shopstream.topology.Topology` as a PyFlink DataStream job.

::

    FileSource (lines) -> decode (p=1) -> timestamps + bounded watermarks -> key_by ->
    stage (KeyedProcessFunction) -> key_by -> stage ... ; every sink line -> writer (p=1)

A stage reads a stream from the stages declared before it (and ``events`` from the
source), so producers come first in the topology, as in :func:`shopstream.pipeline.
default_topology`. Stages with broadcast inputs are not supported yet.
"""

from __future__ import annotations

from typing import Any

from pyflink.common import Duration, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

from shopstream.events import streams
from shopstream.runners.flink.errors import FlinkUnsupportedError
from shopstream.runners.flink.functions import (
    SINK_TAG,
    DecodeFunction,
    JsonlWriter,
    StageFunction,
    stream_tag,
)
from shopstream.runners.flink.support import check_supported
from shopstream.topology import Topology

__all__ = ["build_job"]


class _RecordTime(TimestampAssigner):  # type: ignore[misc]
    """The event time carried in the ``(timestamp_ms, record)`` pair."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[0])


def build_job(env: StreamExecutionEnvironment, topology: Topology, input_path: str,
              output_dir: str, out_of_orderness_ms: int, origin: str | None = None) -> None:
    """Add the job for ``topology`` over the JSONL file ``input_path`` to ``env``;
    dead letters name their source ``origin`` (default: ``input_path``)."""
    check_supported(topology)
    sink_streams = (*topology.sink_streams, streams.DEAD_LETTER, streams.LATE_EVENTS)
    sinks = frozenset(sink_streams)
    parallelism = env.get_parallelism()
    # Reading, decoding and event time run at 1, in file order (the exact late-event rule
    # needs it); operators take their parallelism when created, hence the switch.
    env.set_parallelism(1)
    source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), input_path).build()
    # A Python TimestampAssigner given to from_source is ignored: assign after decoding.
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "events-file") \
        .uid("events-file")
    decoded = lines.process(DecodeFunction(origin or input_path, out_of_orderness_ms, sinks),
                            output_type=Types.PICKLED_BYTE_ARRAY()) \
        .name("decode").uid("decode")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(
        Duration.of_millis(out_of_orderness_ms)).with_timestamp_assigner(_RecordTime())
    events = decoded.assign_timestamps_and_watermarks(strategy).name("event-time") \
        .uid("event-time")
    decode_sinks = decoded.get_side_output(SINK_TAG)
    env.set_parallelism(parallelism)
    produced: dict[str, list[DataStream]] = {streams.EVENTS: [events]}
    sink_parts: list[DataStream] = [decode_sinks]
    stages = topology.stages
    for index, stage in enumerate(stages):
        parts = [p for s in stage.inputs for p in produced.get(s, [])]
        if not parts:
            msg = (f"stage {stage.name!r} reads {', '.join(stage.inputs)}, which no stage "
                   "declared before it produces (on Flink producers come first)")
            raise FlinkUnsupportedError(msg)
        # ``events`` comes from the source only; any other stream a later stage reads may
        # come from this one (operators do not declare what they emit).
        later = frozenset(s for st in stages[index + 1:] for s in st.inputs) - {streams.EVENTS}
        earlier = frozenset(s for st in stages[:index + 1] for s in st.inputs)
        inputs = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        key_by = stage.key_by
        # Keying runs beside its input: at 1 on the source's side, so that one key's
        # events keep file order (ties at one millisecond stay in arrival order).
        env.set_parallelism(1 if stage.inputs == (streams.EVENTS,) else parallelism)
        keyed = inputs.key_by(lambda pair, f=key_by: f(pair[1]), key_type=Types.STRING())
        env.set_parallelism(parallelism)
        out = keyed.process(StageFunction(stage.operator, later, sinks, earlier - later),
                     output_type=Types.PICKLED_BYTE_ARRAY()) \
            .name(stage.name).uid(stage.name)
        for stream in later:
            produced.setdefault(stream, []).append(out.get_side_output(stream_tag(stream)))
        sink_parts.append(out.get_side_output(SINK_TAG))
    everything = sink_parts[0].union(*sink_parts[1:]) if len(sink_parts) > 1 else sink_parts[0]
    env.set_parallelism(1)
    everything.process(JsonlWriter(output_dir, sink_streams)).name("jsonl-writer") \
        .uid("jsonl-writer")
    env.set_parallelism(parallelism)
