"""Kafka settings, reaching the broker (with backoff) and creating missing topics.

Everything Kafka-related in shopstream goes through :class:`KafkaConfig`, so the source,
the sink and the collector talk to the broker the same way. ``confluent-kafka`` is an
optional dependency (``pip install 'shopstream[kafka]'``); importing this module does not
need it, only using the broker does.

Examples
--------
>>> KafkaConfig("127.0.0.1:9092").input_topics
('ecommerce-events', 'shopping-cart-events')
>>> KafkaConfig("")
Traceback (most recent call last):
...
shopstream.errors.ConfigError: KafkaConfig.bootstrap must name a broker (HOST:PORT), got ''
>>> KafkaConfig("localhost:9092", input_topics=("a b",))
Traceback (most recent call last):
...
shopstream.errors.ConfigError: KafkaConfig.input_topics: 'a b' is not a valid Kafka topic name
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# KafkaError lives in connectors/errors.py; imported from here too.
from shopstream.connectors.errors import KafkaError
from shopstream.errors import ConfigError, require

__all__ = ["DEFAULT_INPUT_TOPICS", "BrokerOutage", "KafkaConfig", "KafkaError", "describe",
           "ensure_topics", "kafka", "wait_for_broker"]

#: Topics ``shopstream run --kafka`` reads when none are named.
DEFAULT_INPUT_TOPICS = ("ecommerce-events", "shopping-cart-events")

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
# librdkafka logs through this logger instead of printing to stderr.
_LOG = logging.getLogger("shopstream.kafka")
_RDKAFKA_LOG = logging.getLogger("shopstream.kafka.librdkafka")
#: librdkafka's codes for "no broker answers" and "this connection failed".
_ALL_BROKERS_DOWN, _TRANSPORT = -187, -195


class _ConnectionFailures(logging.Filter):
    """Drops librdkafka's ``FAIL`` lines (one per failed connection attempt, several a
    second while a broker is down): :class:`BrokerOutage` says it once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.args, tuple) and record.args[:1] == ("FAIL",))


_RDKAFKA_LOG.addFilter(_ConnectionFailures())


class BrokerOutage:
    """What a Kafka client says of its broker going away and coming back: one warning
    when no broker answers any more, one when it is back, nothing in between
    (librdkafka retries with backoff by itself: ``reconnect.backoff.ms`` up to
    ``reconnect.backoff.max.ms``). Its :meth:`error` is the client's ``error_cb``.

    Examples
    --------
    >>> outage = BrokerOutage("127.0.0.1:9", "the consumer", clock=iter([1.0, 3.5]).__next__)
    >>> class Down:
    ...     def code(self): return -187
    ...     def str(self): return "1/1 brokers are down"
    >>> outage.error(Down()); outage.down
    True
    >>> outage.back(); outage.down, outage.outages
    (False, 1)
    """

    def __init__(self, bootstrap: str, client: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bootstrap = bootstrap
        self.client = client
        self._clock = clock
        self.since: float | None = None
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def error(self, error: Any) -> None:
        """A client-level error from librdkafka."""
        code = error.code()
        if code == _ALL_BROKERS_DOWN:
            self.lost(error.str())
        elif code != _TRANSPORT:  # one failed connection: the outage line says it
            _LOG.warning("Kafka error on %s (%s): %s", self.bootstrap, self.client,
                         error.str())

    def lost(self, why: str) -> None:
        """No broker answers (``why``: the client's words)."""
        if self.since is None:
            self.since = self._clock()
            self.outages += 1
            _LOG.warning("Kafka broker %s unreachable (%s): %s retries with backoff until "
                         "it is back, and loses nothing meanwhile", self.bootstrap, why,
                         self.client)

    def back(self) -> None:
        """The broker answered again."""
        if self.since is not None:
            _LOG.warning("Kafka broker %s reachable again after %.1f s; %s goes on",
                         self.bootstrap, self._clock() - self.since, self.client)
            self.since = None


@dataclass(frozen=True)
class KafkaConfig:
    """How to reach Kafka and what to read.

    Parameters
    ----------
    bootstrap
        ``HOST:PORT[,HOST:PORT...]`` of the brokers.
    input_topics
        Topics the source reads (``shopstream run --kafka``).
    group
        Consumer group whose offsets are committed after each durable checkpoint.
    partitions
        Partitions of the topics shopstream creates when they are missing.
    connect_timeout_s
        How long to keep retrying (with backoff) while the broker does not answer.
    options
        Extra librdkafka settings given to every client (``security.protocol`` ...).
    """

    bootstrap: str
    input_topics: tuple[str, ...] = DEFAULT_INPUT_TOPICS
    group: str = "shopstream"
    partitions: int = 3
    connect_timeout_s: float = 30.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.bootstrap.strip():
            msg = f"KafkaConfig.bootstrap must name a broker (HOST:PORT), got {self.bootstrap!r}"
            raise ConfigError(msg)
        if not self.input_topics:
            msg = "KafkaConfig.input_topics must name at least one topic"
            raise ConfigError(msg)
        for topic in self.input_topics:
            if not _TOPIC.match(topic):
                msg = f"KafkaConfig.input_topics: {topic!r} is not a valid Kafka topic name"
                raise ConfigError(msg)
        if not self.group:
            msg = "KafkaConfig.group must not be empty"
            raise ConfigError(msg)
        if self.partitions < 1:
            msg = f"KafkaConfig.partitions must be >= 1, got {self.partitions!r}"
            raise ConfigError(msg)
        if self.connect_timeout_s <= 0:
            msg = f"KafkaConfig.connect_timeout_s must be > 0, got {self.connect_timeout_s!r}"
            raise ConfigError(msg)

    def client(self, **extra: Any) -> dict[str, Any]:
        """librdkafka settings for one client: the bootstrap, ``options``, then ``extra``."""
        return ({"bootstrap.servers": self.bootstrap, "logger": _RDKAFKA_LOG}
                | self.options | extra)


def kafka() -> ModuleType:
    """The ``confluent_kafka`` module, or an error saying which extra to install."""
    return require("confluent_kafka", "shopstream[kafka]")


def wait_for_broker(config: KafkaConfig) -> Any:
    """An ``AdminClient`` once the broker answers; retries with backoff until
    ``connect_timeout_s``, then raises :class:`KafkaError` naming the bootstrap."""
    admin_module = require("confluent_kafka.admin", "shopstream[kafka]")
    admin = admin_module.AdminClient(config.client())
    deadline = time.monotonic() + config.connect_timeout_s
    delay = 0.1
    while True:
        try:
            admin.list_topics(timeout=min(1.0, config.connect_timeout_s))
            return admin
        except kafka().KafkaException as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                msg = (f"Kafka broker {config.bootstrap} is unreachable after "
                       f"{config.connect_timeout_s:g} s ({describe(exc)}); start one with "
                       "`shopstream broker` or check --kafka")
                raise KafkaError(msg) from None
            _LOG.warning("Kafka broker %s not reachable (%s), retrying in %.1f s",
                         config.bootstrap, describe(exc), delay)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def ensure_topics(config: KafkaConfig, topics: Iterable[str], admin: Any | None = None,
                  ) -> dict[str, int]:
    """Create the ``topics`` that are missing; return the partition count of each."""
    admin = admin if admin is not None else wait_for_broker(config)
    wanted = list(dict.fromkeys(topics))
    existing = admin.list_topics(timeout=10).topics
    missing = [t for t in wanted if t not in existing]
    if missing:
        new_topic = require("confluent_kafka.admin", "shopstream[kafka]").NewTopic
        futures = admin.create_topics(
            [new_topic(t, num_partitions=config.partitions, replication_factor=1)
             for t in missing], operation_timeout=10)
        for topic, future in futures.items():
            try:
                future.result(timeout=15)
            except kafka().KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):  # another client was quicker
                    msg = (f"cannot create Kafka topic {topic!r} on {config.bootstrap}: "
                           f"{describe(exc)}")
                    raise KafkaError(msg) from None
    return _partition_counts(config, admin, wanted)


def _partition_counts(config: KafkaConfig, admin: Any, topics: list[str]) -> dict[str, int]:
    deadline = time.monotonic() + 10
    while True:
        listed = admin.list_topics(timeout=10).topics
        counts = {t: len(listed[t].partitions) for t in topics
                  if t in listed and listed[t].error is None and listed[t].partitions}
        if len(counts) == len(topics):
            return counts
        if time.monotonic() > deadline:
            absent = sorted(set(topics) - set(counts))
            msg = f"Kafka topics {absent} did not appear on {config.bootstrap}"
            raise KafkaError(msg)
        time.sleep(0.1)


def describe(exc: BaseException) -> str:
    """The broker's own words for a ``KafkaException``."""
    error = exc.args[0] if exc.args else exc
    text = error.str() if hasattr(error, "str") else str(error)
    return str(text)
