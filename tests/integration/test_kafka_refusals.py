"""A Kafka partition's progress window hands what it refuses to the runner as a
:class:`~shopstream.events.time_window.Refusal` (the record, the position after it, the
reason), on a real tansu broker; the record keeps its place in its partition."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Producer

from shopstream.connectors.kafka_admin import KafkaConfig, ensure_topics
from shopstream.connectors.kafka_source import KafkaPosition, KafkaSource, KafkaSourceConfig
from shopstream.events.time_window import Refusal

pytestmark = pytest.mark.integration

DAY = 86_400_000


def _view(ts: int, event_id: str) -> bytes:
    return json.dumps({"eventType": "PAGE_VIEW", "sessionId": "s", "timestamp": ts,
                       "eventId": event_id}, separators=(",", ":")).encode()


def test_a_record_far_ahead_of_its_partition_comes_out_as_a_refusal(
        kafka_bootstrap: str) -> None:
    config = KafkaConfig(kafka_bootstrap, input_topics=("ecommerce-events",), partitions=1)
    ensure_topics(config, ["ecommerce-events"])
    month_ago = int(time.time() * 1000) - 30 * DAY
    records = [_view(month_ago, "e0"), _view(month_ago + DAY, "far"),
               _view(month_ago + 1_000, "e2"), _view(month_ago + 2_000, "e3")]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for record in records:
        producer.produce("ecommerce-events", record)
    assert producer.flush(30) == 0
    source = KafkaSource(config, KafkaSourceConfig(stop_when_idle_s=2.0))
    try:
        items = [item for item in source.read(None) if item is not None]
    finally:
        source.close()
    assert len(items) == 4
    refusals = [item for item in items if isinstance(item, Refusal)]
    assert len(refusals) == 1 and items[1] is refusals[0]
    refused = refusals[0]
    assert type(refused.raw) is bytes and refused.raw == records[1]
    assert "ahead of the newest accepted event time of ecommerce-events[0]" in refused.reason
    assert isinstance(refused.position, KafkaPosition)
    assert refused.position.offsets == {("ecommerce-events", 0): 2}
    lines = [item for item in items if not isinstance(item, Refusal)]
    assert [type(raw) for raw, _ in lines] == [bytes] * 3
    assert [raw for raw, _ in lines] == [records[0], records[2], records[3]]
