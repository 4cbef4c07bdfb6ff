"""How a Kafka source polls and keeps event time (:class:`KafkaSourceConfig`), and the
settings of its consumer (:func:`consumer_settings`).

Split from :mod:`~shopstream.connectors.kafka_source`, which still exports
:class:`KafkaSourceConfig` under its old path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopstream.connectors.kafka_admin import KafkaConfig
from shopstream.errors import ConfigError

__all__ = ["KafkaSourceConfig", "consumer_settings"]


@dataclass(frozen=True)
class KafkaSourceConfig:
    """How the source polls and keeps event time.

    Parameters
    ----------
    poll_timeout_s
        Longest wait of one poll; an empty poll yields an idle tick.
    batch
        Messages fetched per poll at most.
    stop_when_idle_s
        End the input (as complete) after this many seconds without a message;
        ``None`` (default) reads forever.
    out_of_orderness_ms
        How far behind the newest event of its partition an event may be: the engine's
        bound (``RunnerConfig.out_of_orderness_ms``).
    idle_timeout_s
        A partition with nothing buffered and no event for this long stops holding the
        watermark back (Flink's ``withIdleness``) until its next event.
    caught_up_s
        The same, sooner, for a partition the broker said was read to its end.
    discover_s
        How often to look for new partitions of the input topics.
    outage_grace_s
        After the broker comes back from an outage, how long its silence does not count
        as silence of the data (the runner's idle clock stands still): producers are
        back that much later at most. 15 s: librdkafka's default
        ``reconnect.backoff.max.ms`` (10 s) plus its jitter (up to 50 %).

    Examples
    --------
    >>> KafkaSourceConfig(stop_when_idle_s=0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: KafkaSourceConfig.stop_when_idle_s must be > 0, got 0
    """

    poll_timeout_s: float = 0.2
    batch: int = 1_000
    stop_when_idle_s: float | None = None
    out_of_orderness_ms: int = 5_000
    idle_timeout_s: float = 5.0
    caught_up_s: float = 0.5
    discover_s: float = 10.0
    outage_grace_s: float = 15.0

    def __post_init__(self) -> None:
        for name in ("poll_timeout_s", "idle_timeout_s", "discover_s"):
            if getattr(self, name) <= 0:
                msg = f"KafkaSourceConfig.{name} must be > 0, got {getattr(self, name)!r}"
                raise ConfigError(msg)
        if self.batch < 1:
            msg = f"KafkaSourceConfig.batch must be >= 1, got {self.batch!r}"
            raise ConfigError(msg)
        if self.out_of_orderness_ms < 0:
            msg = ("KafkaSourceConfig.out_of_orderness_ms must be >= 0, got "
                   f"{self.out_of_orderness_ms!r}")
            raise ConfigError(msg)
        for name in ("caught_up_s", "outage_grace_s"):
            if not getattr(self, name) >= 0:
                msg = f"KafkaSourceConfig.{name} must be >= 0, got {getattr(self, name)!r}"
                raise ConfigError(msg)
        if self.stop_when_idle_s is not None and self.stop_when_idle_s <= 0:
            msg = ("KafkaSourceConfig.stop_when_idle_s must be > 0, got "
                   f"{self.stop_when_idle_s!r}")
            raise ConfigError(msg)


def consumer_settings(config: KafkaConfig,
                      error_cb: Callable[[Any], None]) -> dict[str, Any]:
    """The librdkafka settings of the source's consumer: ``config``'s client settings,
    its group, offsets stored and committed only by the source, and ``error_cb`` told of
    every client error (the broker going away).

    Examples
    --------
    >>> settings = consumer_settings(KafkaConfig(bootstrap="127.0.0.1:9092", group="g"), print)
    >>> settings["group.id"], settings["enable.auto.commit"], settings["enable.partition.eof"]
    ('g', False, True)
    """
    return config.client(**{
        "group.id": config.group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        # Group joins are slow on some brokers otherwise (and we never join: assign).
        "session.timeout.ms": 6000,
        # The end of a partition is what a fetch says, not the (maybe wrong) end
        # offsets; a short fetch wait makes the end known soon.
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "error_cb": error_cb,
    })
