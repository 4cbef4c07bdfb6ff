"""Whether the broker of a Kafka source answers: the source's outage detection.

Silence alone cannot tell a quiet topic from a broker gone, nor can metadata (from the
client's cache), nor a partition read to its end (said once, not again after a
reconnection). :class:`BrokerProbe` asks the broker a question that needs it (the
group's committed offset of one partition), at most once a second, and tells the
source's :class:`~shopstream.connectors.kafka_admin.BrokerOutage` when no answer comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from shopstream.connectors.kafka_admin import BrokerOutage, describe, kafka
from shopstream.connectors.partition_watermarks import Partition

__all__ = ["BrokerProbe"]


class BrokerProbe:
    """Asks whether the broker answers, at most once every ``every_s`` seconds of
    ``clock``; a question costs one request of at most a second.

    Examples
    --------
    >>> class Answers:  # a consumer whose broker answers
    ...     def committed(self, partitions, timeout): return partitions
    >>> probe = BrokerProbe(BrokerOutage("127.0.0.1:9", "a doctest"),
    ...                     clock=iter([0.0, 0.5, 1.0]).__next__)
    >>> [probe.reachable(Answers(), [("t", 0)]) for _ in range(3)]
    [True, None, True]
    >>> probe.reachable(Answers(), [])  # no partition to ask about
    """

    def __init__(self, outage: BrokerOutage, every_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.outage = outage
        self.every_s = every_s
        self.clock = clock
        self._next = 0.0

    def reachable(self, consumer: Any, partitions: Iterable[Partition]) -> bool | None:
        """Whether the broker answers a request for the group's committed offset of the
        first of ``partitions`` (``None``: not asked, the last question was less than
        ``every_s`` ago, or there is no partition); no answer tells the outage."""
        first = next(iter(partitions), None)
        if first is None:
            return None
        now = self.clock()
        if now < self._next:
            return None
        self._next = now + self.every_s
        confluent = kafka()
        try:
            consumer.committed([confluent.TopicPartition(*first)], timeout=1.0)
        except confluent.KafkaException as exc:
            self.outage.lost(f"no answer to an offsets request: {describe(exc)}")
            return False
        return True
