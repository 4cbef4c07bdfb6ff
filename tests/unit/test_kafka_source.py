"""KafkaSource over a fake consumer: event-time merge whatever order the broker hands
partitions out in, new partitions found while running, a resume from a position with
watermarks, flow control. (The real broker: tests/integration/test_kafka*.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import confluent_kafka
import pytest

from shopstream.connectors import kafka_source
from shopstream.connectors.kafka_admin import KafkaConfig
from shopstream.connectors.kafka_source import KafkaPosition, KafkaSource, KafkaSourceConfig
from shopstream.errors import SourceError

TopicPart = tuple[str, int]
EOF = confluent_kafka.KafkaError._PARTITION_EOF


class FakeMessage:
    def __init__(self, tp: TopicPart, offset: int, value: bytes | None = None,
                 eof: bool = False) -> None:
        self._tp, self._offset, self._value, self._eof = tp, offset, value, eof

    def topic(self) -> str:
        return self._tp[0]

    def partition(self) -> int:
        return self._tp[1]

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def error(self) -> Any:
        if not self._eof:
            return None
        return SimpleNamespace(code=lambda: EOF, fatal=lambda: False, str=lambda: "EOF")


class FakeBroker:
    """Partition logs, handed out a whole partition at a time in ``order`` (as some
    brokers do), with a partition EOF after each catch-up."""

    def __init__(self, logs: dict[TopicPart, list[bytes]], order: list[TopicPart]) -> None:
        self.logs = logs
        self.order = order
        self.one_partition_per_poll = False
        self.consumers: list[FakeConsumer] = []

    def counts(self, topics: Any) -> dict[str, int]:
        return {t: len([tp for tp in self.logs if tp[0] == t]) for t in topics}


class FakeConsumer:
    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.next: dict[TopicPart, int] = {}
        self.paused: set[TopicPart] = set()
        self.at_end: set[TopicPart] = set()
        self.calls: list[tuple[str, list[TopicPart]]] = []
        broker.consumers.append(self)

    def committed(self, parts: list[Any], timeout: float) -> list[Any]:
        return [confluent_kafka.TopicPartition(p.topic, p.partition, -1001) for p in parts]

    def assign(self, parts: list[Any]) -> None:
        for p in parts:
            self.next[(p.topic, p.partition)] = max(p.offset, 0)
        self.calls.append(("assign", [(p.topic, p.partition) for p in parts]))

    def incremental_assign(self, parts: list[Any]) -> None:
        assert all(p.offset == confluent_kafka.OFFSET_BEGINNING for p in parts)
        self.assign(parts)
        self.calls[-1] = ("incremental_assign", self.calls[-1][1])

    def pause(self, parts: list[Any]) -> None:
        self.paused |= {(p.topic, p.partition) for p in parts}
        self.calls.append(("pause", [(p.topic, p.partition) for p in parts]))

    def resume(self, parts: list[Any]) -> None:
        self.paused -= {(p.topic, p.partition) for p in parts}
        self.calls.append(("resume", [(p.topic, p.partition) for p in parts]))

    def consume(self, num: int, timeout: float) -> list[FakeMessage]:
        out: list[FakeMessage] = []
        for tp in self.broker.order:
            if tp not in self.next or tp in self.paused:
                continue
            log = self.broker.logs[tp]
            while self.next[tp] < len(log) and len(out) < num:
                out.append(FakeMessage(tp, self.next[tp], log[self.next[tp]]))
                self.next[tp] += 1
                self.at_end.discard(tp)
            if len(out) >= num or (out and self.broker.one_partition_per_poll):
                break
            if tp not in self.at_end:
                out.append(FakeMessage(tp, self.next[tp], eof=True))
                self.at_end.add(tp)
        if not out:
            time.sleep(timeout)
        return out

    def list_topics(self, timeout: float) -> Any:
        topics = {tp[0] for tp in self.broker.logs}
        return SimpleNamespace(topics={t: SimpleNamespace(error=None, partitions={
            p: None for (topic, p) in self.broker.logs if topic == t}) for t in topics})

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> FakeBroker:
    fake = FakeBroker({}, [])
    module = SimpleNamespace(
        Consumer=lambda conf: FakeConsumer(fake), TopicPartition=confluent_kafka.TopicPartition,
        OFFSET_BEGINNING=confluent_kafka.OFFSET_BEGINNING, KafkaError=confluent_kafka.KafkaError,
        KafkaException=confluent_kafka.KafkaException)
    monkeypatch.setattr(kafka_source, "kafka", lambda: module)
    monkeypatch.setattr(kafka_source, "wait_for_broker", lambda config: None)
    monkeypatch.setattr(kafka_source, "ensure_topics",
                        lambda config, topics, admin=None: fake.counts(topics))
    return fake


def event(ts: int, session: str = "s") -> bytes:
    return json.dumps({"eventType": "PAGE_VIEW", "sessionId": session,
                       "timestamp": ts}).encode()


def times(values: list[bytes]) -> list[int]:
    return [json.loads(v)["timestamp"] for v in values if v.startswith(b"{")]


def source(**settings: Any) -> KafkaSource:
    base: dict[str, Any] = {"stop_when_idle_s": 0.3, "out_of_orderness_ms": 0,
                            "caught_up_s": 0.05, "idle_timeout_s": 2.0}
    return KafkaSource(KafkaConfig("fake:9092", input_topics=("ev",)),
                       KafkaSourceConfig(**(base | settings)))


def drain(items: Iterator[tuple[bytes, KafkaPosition] | None],
          ) -> list[tuple[bytes, KafkaPosition]]:
    return [item for item in items if item is not None]


def test_partitions_handed_out_one_at_a_time_come_out_in_event_time(broker: FakeBroker) -> None:
    broker.logs = {("ev", p): [event(10 * i + p) for i in range(30)] for p in range(3)}
    broker.logs[("ev", 1)].insert(5, b"not json")
    broker.order = [("ev", 2), ("ev", 1), ("ev", 0)]  # the newest first, whole partitions
    src = source()
    out = drain(src.read(None))
    values = [v for v, _ in out]
    assert times(values) == sorted(times(values)) and len(times(values)) == 90
    assert b"not json" in values and src.exhausted
    last = out[-1][1]
    assert last.offsets == {("ev", 0): 30, ("ev", 1): 31, ("ev", 2): 30}
    assert last.watermarks == {("ev", p): 290 + p - 1 for p in range(3)}


def test_a_partition_that_appears_while_running_is_read_from_its_beginning(
        broker: FakeBroker) -> None:
    broker.logs = {("ev", 0): [event(i) for i in range(0, 100, 10)]}
    broker.order = [("ev", 1), ("ev", 0)]
    src = source(discover_s=0.05, stop_when_idle_s=0.5)
    out: list[bytes] = []
    for item in src.read(None):
        if item is None:
            if ("ev", 1) not in broker.logs:  # caught up: the topic grows a partition
                broker.logs[("ev", 1)] = []
            elif ("incremental_assign", [("ev", 1)]) in broker.consumers[0].calls and (
                    not broker.logs[("ev", 1)]):  # found: events come to both
                broker.logs[("ev", 1)] += [event(t, "new") for t in (105, 125, 145)]
                broker.logs[("ev", 0)] += [event(t) for t in (110, 120, 130, 140, 150)]
            continue
        out.append(item[0])
        position = item[1]
    assert times(out) == [*range(0, 100, 10), 105, 110, 120, 125, 130, 140, 145, 150]
    assert position.offsets == {("ev", 0): 15, ("ev", 1): 3}


def test_a_resume_seeks_to_the_checkpointed_offsets_and_keeps_the_watermarks(
        broker: FakeBroker) -> None:
    broker.logs = {("ev", 0): [event(t) for t in (10, 20, 30, 40)],
                   ("ev", 1): [event(t) for t in (15, 35, 45)]}
    broker.order = [("ev", 0), ("ev", 1)]
    src = source(stop_when_idle_s=0.2)
    items = src.read(KafkaPosition({("ev", 0): 2, ("ev", 1): 1},
                                   {("ev", 0): 19, ("ev", 1): 14}))
    assert src.watermark_ms == 14  # before anything new is read
    assert broker.consumers[0].calls[0] == ("assign", [("ev", 0), ("ev", 1)])
    assert broker.consumers[0].next == {("ev", 0): 2, ("ev", 1): 1}
    assert times([v for v, _ in drain(items)]) == [30, 35, 40, 45]
    # A checkpoint written before watermarks were kept: offsets only.
    assert times([v for v, _ in drain(source().read({("ev", 0): 3, ("ev", 1): 3}))]) == [40]
    with pytest.raises(SourceError, match="taken by a run over a file"):
        source().read(1234)  # type: ignore[arg-type]


def test_a_partition_far_ahead_is_paused_while_the_others_catch_up(broker: FakeBroker) -> None:
    broker.logs = {("ev", 0): [event(1_000 + i) for i in range(100)],
                   ("ev", 1): [event(i) for i in range(100)]}
    broker.order = [("ev", 0), ("ev", 1)]
    src = source(batch=5)
    values = [v for v, _ in drain(src.read(None))]
    assert times(values) == [*range(100), *range(1_000, 1_100)]
    calls = broker.consumers[0].calls
    assert ("pause", [("ev", 0)]) in calls and ("resume", [("ev", 0)]) in calls


def test_a_resume_over_a_different_set_of_partitions(broker: FakeBroker) -> None:
    """The topic gained partition 2 since the checkpoint, and the checkpoint names a
    topic no longer read: the new partition is read from its beginning (and holds the
    others back until it shows an event), the stale one is forgotten."""
    broker.logs = {("ev", 0): [event(t) for t in (10, 20, 30)],
                   ("ev", 1): [event(t) for t in (15, 25)],
                   ("ev", 2): [event(t) for t in (5, 22, 40)]}
    broker.order = [("ev", 0), ("ev", 1), ("ev", 2)]
    src = source(stop_when_idle_s=0.2)
    out = drain(src.read(KafkaPosition({("ev", 0): 1, ("ev", 1): 1, ("gone", 0): 7},
                                       {("ev", 0): 9, ("ev", 1): 14, ("gone", 0): 99})))
    assert broker.consumers[0].next == {("ev", 0): 3, ("ev", 1): 2, ("ev", 2): 3}
    assert times([v for v, _ in out]) == [5, 20, 22, 25, 30, 40]
    assert out[-1][1].offsets == {("ev", 0): 3, ("ev", 1): 2, ("ev", 2): 3}
    assert out[-1][1].watermarks == {("ev", 0): 29, ("ev", 1): 24, ("ev", 2): 39}


def test_time_spent_in_the_pipeline_does_not_make_a_partition_idle(broker: FakeBroker) -> None:
    """The pipeline takes 0.3 s per event, longer than the idle timeouts: while it works
    the consumer does not fetch, so a partition that brought nothing meanwhile is not
    idle, and its next event (older than the other partition's) is not overtaken."""
    broker.logs = {("ev", 0): [event(10), event(20)], ("ev", 1): [event(15)]}
    broker.order = [("ev", 0), ("ev", 1)]
    broker.one_partition_per_poll = True
    src = source(idle_timeout_s=0.2, caught_up_s=0.2, stop_when_idle_s=0.5)
    out: list[int] = []
    for item in src.read(None):
        if item is None:
            continue
        out += times([item[0]])
        if out[-1] == 15:  # then both partitions get more; partition 0's comes first
            broker.logs[("ev", 0)] += [event(30), event(40)]
            broker.logs[("ev", 1)] += [event(25)]
        time.sleep(0.3)
    assert out == [10, 15, 20, 25, 30, 40]
