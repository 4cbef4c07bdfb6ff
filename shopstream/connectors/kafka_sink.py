"""Output streams to Kafka topics: a runner :class:`~shopstream.runners.embedded.runner.Tap`.

Every sink stream (dead letters and late events included) goes to the topic of the same
name, and what the WebSocket pushes goes to ``websocket_fanout`` keyed by ``session:ID``
or ``user:ID``. Messages are keyed by the output's key (a session, a user, a product...),
so one key's records stay in order on a partitioned topic, and carry a header
``shopstream-id``: a hash of the stream and the encoded record. A run resumed after a
crash writes again what came after its last checkpoint, with the same ids, so consumers
can drop duplicates.

:meth:`KafkaSink.flush` returns only once the broker acknowledged everything written;
the runner calls it before saving a checkpoint, so input offsets are committed only for
outputs that were delivered.

Examples
--------
>>> record_id("fraud-alerts", b'{"a":1}') == record_id("fraud-alerts", b'{"a":1}')
True
>>> record_id("fraud-alerts", b'{"a":1}') == record_id("top-products", b'{"a":1}')
False
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from shopstream.connectors.kafka_admin import (
    BrokerOutage,
    KafkaConfig,
    KafkaError,
    describe,
    ensure_topics,
    kafka,
    wait_for_broker,
)
from shopstream.events import streams
from shopstream.events.fanout import PUSHED
from shopstream.events.fanout import message as push_message
from shopstream.events.fanout import targets as push_targets
from shopstream.events.model import ShopperEvent
from shopstream.events.records import DeadLetter, Output

__all__ = ["ID_HEADER", "WEBSOCKET_FANOUT", "KafkaEventWriter", "KafkaProducer", "KafkaSink",
           "record_id"]

#: Header carrying a record's deterministic id.
ID_HEADER = "shopstream-id"
#: Topic of what the WebSocket pushes to subscribers.
WEBSOCKET_FANOUT = "websocket_fanout"


def record_id(stream: str, value: bytes) -> str:
    """The deterministic id of ``value`` on ``stream``: same record, same id."""
    return hashlib.blake2b(stream.encode() + b"\0" + value, digest_size=16).hexdigest()


class KafkaProducer:
    """A producer that keys, ids and tracks delivery of what it sends.

    ``flush`` waits until every message is acknowledged and raises :class:`KafkaError`
    when any could not be delivered (after librdkafka's own retries with backoff).
    """

    def __init__(self, config: KafkaConfig, topics: Iterable[str],
                 flush_timeout_s: float = 120.0) -> None:
        self.config = config
        self.flush_timeout_s = flush_timeout_s
        admin = wait_for_broker(config)
        self.partitions = ensure_topics(config, topics, admin)
        #: The broker going away and coming back (one log line each): messages wait in
        #: the producer meanwhile, up to ``flush_timeout_s``.
        self.outage = BrokerOutage(config.bootstrap, "the Kafka producer")
        self._producer = kafka().Producer(config.client(**{
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 500_000,
            "message.timeout.ms": int(flush_timeout_s * 1000),
            "error_cb": self.outage.error,
        }))
        self._failures: list[str] = []
        self.sent = 0
        self.delivered = 0

    def send(self, topic: str, key: str, value: bytes, timestamp_ms: int = 0) -> None:
        """Queue one message (``timestamp_ms`` 0: the produce time); blocks briefly while
        librdkafka's queue is full."""
        headers = [(ID_HEADER, record_id(topic, value).encode())]
        produce = self._producer.produce
        while True:
            try:
                produce(topic, value, key.encode(), headers=headers, on_delivery=self._report,
                        timestamp=timestamp_ms)
                break
            except BufferError:
                self._producer.poll(0.05)
        self.sent += 1
        if not self.sent & 1023:
            self._producer.poll(0)

    def _report(self, error: Any, _message: Any) -> None:
        if error is None:
            self.delivered += 1
            if self.outage.since is not None:
                self.outage.back()
        elif len(self._failures) < 10:
            self._failures.append(error.str())

    def flush(self) -> None:
        """Wait for every queued message to be acknowledged."""
        deadline = time.monotonic() + self.flush_timeout_s
        while self._producer.flush(1.0) > 0:
            if time.monotonic() > deadline:
                msg = (f"Kafka broker {self.config.bootstrap} did not acknowledge "
                       f"{len(self._producer)} messages within {self.flush_timeout_s:g} s")
                raise KafkaError(msg)
        if self._failures:
            first = self._failures[0]
            self._failures.clear()
            msg = f"messages could not be delivered to Kafka at {self.config.bootstrap}: {first}"
            raise KafkaError(msg)

    def close(self) -> None:
        """Deliver what is queued (without waiting past ``flush_timeout_s``) and
        disconnect."""
        if self._producer is None:
            return
        try:
            self.flush()
        except kafka().KafkaException as exc:
            msg = f"closing the Kafka producer on {self.config.bootstrap}: {describe(exc)}"
            raise KafkaError(msg) from None
        finally:
            producer, self._producer = self._producer, None
            producer.close()


#: A dead letter larger than this (an over-long record's) has its ``raw`` cut to fit a
#: Kafka message (1 MB by default); the dead-letter file keeps it up to the line limit.
MAX_DEAD_LETTER_BYTES = 900_000


def _cut(letter: DeadLetter) -> DeadLetter:
    """``letter`` with ``raw`` cut to its first 512 KiB characters (a multiple of 4: base64
    stays decodable), the reason saying so."""
    keep = 512 * 1024
    return msgspec.structs.replace(
        letter, raw=letter.raw[:keep],
        reason=f"{letter.reason} [raw cut to its first {keep} characters of "
               f"{len(letter.raw)} to fit a Kafka message]")


class KafkaSink:
    """A runner tap writing each of ``sink_streams`` to the topic of the same name.

    ``fanout`` also writes what the WebSocket pushes to ``websocket_fanout``.
    """

    def __init__(self, config: KafkaConfig, sink_streams: Iterable[str],
                 fanout: bool = True, flush_timeout_s: float = 120.0) -> None:
        self.streams = frozenset(sink_streams)
        self.fanout = fanout
        topics = sorted(self.streams) + ([WEBSOCKET_FANOUT] if fanout else [])
        self.producer = KafkaProducer(config, topics, flush_timeout_s)
        self._encode = msgspec.json.Encoder().encode
        self._closed = False

    def write(self, out: Output) -> None:
        value = self._encode(out.record)
        if len(value) > MAX_DEAD_LETTER_BYTES and isinstance(out.record, DeadLetter):
            value = self._encode(_cut(out.record))
        self.producer.send(out.stream, out.key, value)
        if self.fanout and out.stream in PUSHED:
            pushed = self._encode(push_message(out))
            for kind, ident in push_targets(out):
                self.producer.send(WEBSOCKET_FANOUT, f"{kind}:{ident}", pushed)

    def flush(self) -> None:
        self.producer.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.producer.close()


class KafkaEventWriter:
    """Collector events to Kafka: accepted ones to the input ``topic`` keyed by session,
    rejected ones to ``dead-letter``. Each call returns once the broker acknowledged, so
    an answered HTTP request is never lost. Message timestamps are the receive time, not
    the device's clock: the source merges partitions by them, and a device whose clock
    is days ahead must not hold a partition back."""

    def __init__(self, config: KafkaConfig, topic: str) -> None:
        self.topic = topic
        self.producer = KafkaProducer(config, [topic, streams.DEAD_LETTER],
                                      flush_timeout_s=30.0)
        self._encode = msgspec.json.Encoder().encode

    def accept(self, events: Sequence[ShopperEvent]) -> None:
        send = self.producer.send
        for event in events:
            send(self.topic, event.session_id, self._encode(event))
        self.producer.flush()

    def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            value = self._encode(letter)
            if len(value) > MAX_DEAD_LETTER_BYTES:  # an over-long body must not be a 5xx
                value = self._encode(_cut(letter))
            self.producer.send(streams.DEAD_LETTER, letter.source, value)
        self.producer.flush()

    def close(self) -> None:
        self.producer.close()
