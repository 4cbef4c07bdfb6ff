"""How long each stream's data is kept: retention periods per stream, in days.

The lake keeps a stream's partitions (``stream=NAME/date=YYYY-MM-DD``) for its period
(:func:`expired_partitions` lists those past it; :func:`expired_keys` the objects of a
lake on S3 in them), the store keeps no value longer than
``store_days`` (:meth:`RetentionConfig.cap_ttls` caps each time to live of
:class:`~shopstream.stores.keys.TtlConfig`), and the daily retention cleanup job reads
this configuration to delete what is older. The defaults follow the shop world: raw
input events and dead letters (which may hold personal data) go soonest, aggregates that
identify nobody (revenue, top products, trending, rules) stay longest.

Examples
--------
>>> config = RetentionConfig()
>>> config.days_for("events"), config.days_for("revenue-stats"), config.days_for("unknown")
(90, 730, 365)
>>> RetentionConfig.from_mapping({"events": 30, "default": 180}).days_for("events")
30
>>> RetentionConfig(streams={"events": 0})
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RetentionConfig.streams['events'] must be an int >= 1 (days), got 0
>>> day = 86_400_000
>>> config.expired("events", "2026-01-01", now_ms=(20_454 + 100) * day)  # + 100 days
True
>>> config.cap_ttl_s(None), config.cap_ttl_s(60.0)
(2592000.0, 60.0)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.stores.keys import TtlConfig

__all__ = ["DEFAULT_DAYS", "RetentionConfig", "expired_keys", "expired_partitions"]

_DAY_MS = 86_400_000
_DATE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")

DEFAULT_DAYS: Mapping[str, int] = MappingProxyType({
    "events": 90,
    "dead-letter": 30,
    "late-events": 30,
    "catalog-changes": 365,
    "basket-completions": 365,
    "abandoned-baskets": 180,
    "cart-abandonment": 180,
    "fraud-alerts": 730,
    "product-recommendations": 30,
    "shopper-features": 30,
    "revenue-stats": 730,
    "top-products": 730,
    "trending-products": 365,
    "basket-patterns": 365,
    "rules-by-antecedent": 365,
})
"""Days each stream is kept unless the configuration says otherwise."""


def _check_days(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"RetentionConfig.{where} must be an int >= 1 (days), got {value!r}"
        raise ConfigError(msg)
    return value


@dataclass(frozen=True)
class RetentionConfig:
    """Retention periods.

    Parameters
    ----------
    streams
        Stream name -> days, over :data:`DEFAULT_DAYS` (a stream named here replaces
        its default).
    default_days
        Days for a stream named nowhere (default 365).
    store_days
        The longest any value lives in the feature store (default 30).
    """

    streams: Mapping[str, int] = field(default_factory=dict)
    default_days: int = 365
    store_days: int = 30

    def __post_init__(self) -> None:
        merged = dict(DEFAULT_DAYS)
        for name, days in self.streams.items():
            if not isinstance(name, str) or not name:
                msg = f"RetentionConfig.streams: a stream name must be a string, got {name!r}"
                raise ConfigError(msg)
            merged[name] = _check_days(f"streams[{name!r}]", days)
        _check_days("default_days", self.default_days)
        _check_days("store_days", self.store_days)
        object.__setattr__(self, "streams", MappingProxyType(merged))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RetentionConfig:
        """From a configuration section: stream names to days, plus optional ``default``
        and ``store`` keys."""
        streams = {k: v for k, v in data.items() if k not in ("default", "store")}
        return cls(streams=streams, default_days=data.get("default", 365),
                   store_days=data.get("store", 30))

    def days_for(self, stream: str) -> int:
        """Days ``stream`` is kept."""
        return int(self.streams.get(stream, self.default_days))

    def cutoff_ms(self, stream: str, now_ms: int) -> int:
        """Data of ``stream`` older than this epoch-millisecond time is past retention."""
        return now_ms - self.days_for(stream) * _DAY_MS

    def expired(self, stream: str, day: str | date, now_ms: int) -> bool:
        """Whether the whole UTC ``day`` of ``stream`` is past retention at ``now_ms``."""
        when = date.fromisoformat(day) if isinstance(day, str) else day
        end_ms = int(datetime(when.year, when.month, when.day, tzinfo=UTC).timestamp()
                     * 1000) + _DAY_MS
        return end_ms <= self.cutoff_ms(stream, now_ms)

    def cap_ttl_s(self, ttl_s: float | None) -> float:
        """A store time to live no longer than ``store_days`` (``None``: the ceiling)."""
        ceiling = float(self.store_days * 86_400)
        return ceiling if ttl_s is None else min(float(ttl_s), ceiling)

    def cap_ttls(self, ttl: TtlConfig) -> TtlConfig:
        """``ttl`` (the store writer's times to live) with none beyond ``store_days``.

        >>> from shopstream.stores.keys import TtlConfig
        >>> RetentionConfig(store_days=1).cap_ttls(TtlConfig()).context_s
        86400.0
        """
        return replace(ttl, **{f.name: self.cap_ttl_s(getattr(ttl, f.name))
                               for f in fields(ttl)})


def expired_partitions(lake: str | Path, config: RetentionConfig, now_ms: int) -> list[Path]:
    """The ``stream=NAME/date=DAY`` folders of ``lake`` past retention at ``now_ms``
    (for the retention cleanup job to delete), oldest first.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for d in ("2020-01-01", "2099-01-01"):
    ...     (root / "stream=events" / f"date={d}").mkdir(parents=True)
    >>> [p.name for p in expired_partitions(root, RetentionConfig(), now_ms=1_800_000_000_000)]
    ['date=2020-01-01']
    """
    root = Path(lake)
    found: list[tuple[str, Path]] = []
    for stream_dir in sorted(root.glob("stream=*")):
        stream = stream_dir.name[len("stream="):]
        for day_dir in sorted(stream_dir.iterdir()):
            match = _DATE.match(day_dir.name)
            if match and day_dir.is_dir() and config.expired(stream, match[1], now_ms):
                found.append((match[1], day_dir))
    return [path for _, path in sorted(found)]


def expired_keys(keys: Iterable[str], config: RetentionConfig,
                 now_ms: int) -> dict[str, list[str]]:
    """The object keys of a lake on S3 (``stream=NAME/date=DAY/...``, relative to its
    prefix) in partitions past retention at ``now_ms``, by partition, oldest first.

    >>> expired_keys(["stream=events/date=2020-01-01/part-a-000001.parquet",
    ...               "stream=events/date=2099-01-01/part-a-000002.parquet",
    ...               "stream=events/part-x.parquet"], RetentionConfig(), 1_800_000_000_000)
    {'stream=events/date=2020-01-01': ['stream=events/date=2020-01-01/part-a-000001.parquet']}
    """
    found: dict[tuple[str, str], list[str]] = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) < 3 or not parts[0].startswith("stream="):
            continue
        match = _DATE.match(parts[1])
        if match and config.expired(parts[0][len("stream="):], match[1], now_ms):
            found.setdefault((match[1], f"{parts[0]}/{parts[1]}"), []).append(key)
    return {folder: sorted(found[(day, folder)]) for day, folder in sorted(found)}
