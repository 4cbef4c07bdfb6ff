"""What a PostgreSQL change-data-capture source reads from, and where its stream stands.

:class:`PostgresCdcConfig` is validated when made; :class:`CdcPosition` is the position a
checkpoint keeps (see :mod:`shopstream.connectors.postgres_cdc`).

Examples
--------
>>> PostgresCdcConfig(dsn="postgresql://127.0.0.1/shop").slot
'shopstream'
>>> CdcPosition.of((10, 20, 1)).tx_lsn
20
>>> CdcPosition.of("x")
Traceback (most recent call last):
...
shopstream.errors.SourceError: checkpoint position 'x' is not a PostgreSQL CDC position
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from shopstream.errors import ConfigError, SourceError

__all__ = ["CdcPosition", "PostgresCdcConfig"]

_SLOT = re.compile(r"[a-z0-9_]{1,63}")


@dataclass(frozen=True)
class PostgresCdcConfig:
    """Where to read changes from.

    Parameters
    ----------
    dsn
        PostgreSQL connection string of the shop database (``wal_level=logical``).
    slot
        Logical replication slot (wal2json); created on first use.
    stop_when_idle_s
        End the input, as complete, after this many seconds without a transaction, as
        the server proves them (see the module doc; ``None``: run until stopped).
    tick_s
        Longest wait for the server before an idle tick, and the least time between two
        requests for a reply.
    """

    dsn: str
    slot: str = "shopstream"
    stop_when_idle_s: float | None = None
    tick_s: float = 0.2

    def __post_init__(self) -> None:
        if not isinstance(self.dsn, str) or not self.dsn:
            msg = f"PostgresCdcConfig.dsn must be a connection string, got {self.dsn!r}"
            raise ConfigError(msg)
        if not isinstance(self.slot, str) or not _SLOT.fullmatch(self.slot):
            msg = f"PostgresCdcConfig.slot must match [a-z0-9_]{{1,63}}, got {self.slot!r}"
            raise ConfigError(msg)
        if self.stop_when_idle_s is not None and not self.stop_when_idle_s > 0:
            msg = ("PostgresCdcConfig.stop_when_idle_s must be > 0 seconds, got "
                   f"{self.stop_when_idle_s!r}")
            raise ConfigError(msg)
        if not 0 < self.tick_s <= 5:
            msg = f"PostgresCdcConfig.tick_s must be in (0, 5] seconds, got {self.tick_s!r}"
            raise ConfigError(msg)


class CdcPosition(NamedTuple):
    """Where the stream stands: every transaction ending at or before ``safe_lsn`` is
    out; of the one ending at ``tx_lsn`` (0: none), the first ``done`` events are."""

    safe_lsn: int
    tx_lsn: int = 0
    done: int = 0

    @classmethod
    def of(cls, value: Any) -> CdcPosition:
        """A position from a checkpoint (a tuple or list of three ints)."""
        if isinstance(value, Sequence) and len(value) == 3 and all(
                isinstance(v, int) for v in value):
            return cls(*value)
        msg = f"checkpoint position {value!r} is not a PostgreSQL CDC position"
        raise SourceError(msg)
