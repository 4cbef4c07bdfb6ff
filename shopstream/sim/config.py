"""The simulator's configuration: one frozen object, validated on construction.

Examples
--------
>>> SimulationConfig(sessions=10, seed=1, end_ms=1_700_000_000_000).window_ms
3600000
>>> SimulationConfig(days=2).window_ms
172800000
>>> SimulationConfig(bad_rate=1.5)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: SimulationConfig.bad_rate must be a number in [0, 1), got 1.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopstream.errors import ConfigError

__all__ = ["MAX_DAYS", "SimulationConfig"]

MAX_DAYS = 3650
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_MAX_DISORDER_MS = _HOUR_MS


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    Parameters
    ----------
    sessions
        Number of shopping sessions (>= 1).
    days
        History backfill: session starts are spread over the ``days`` days before
        ``end_ms`` following a daily traffic curve; ``0`` spreads them over the last hour.
    seed
        Seed of every random stream; the same configuration with a fixed ``end_ms``
        always produces the same events.
    end_ms
        End of the time window (epoch ms); ``None`` means now, truncated to the minute.
    rate
        Live mode: events per second of wall clock, stamped with the current time;
        ``None`` writes as fast as possible with simulated timestamps.
    bad_rate
        Fraction of output lines that are malformed, in ``[0, 1)``.
    disorder_ms
        Upper bound of out-of-order delivery: an event may be written after events up to
        this many milliseconds newer than itself (0 = strictly sorted).
    iso_timestamp_rate
        Fraction of good lines whose ``timestamp`` is an ISO-8601 string, in ``[0, 1]``.
    products
        Catalog size (>= 30).
    shoppers
        Initial shopper pool; ``None`` sizes it from ``sessions``. The pool grows when
        every picked shopper is still inside their 30-minute session gap.
    currency
        ISO 4217 code put on purchases.
    categories
        Use only the first ``categories`` of the catalog's 15 categories (``None``: all).

    Examples
    --------
    >>> cfg = SimulationConfig(sessions=500, days=7, seed=1, end_ms=1_717_200_000_000)
    >>> cfg.window_ms // 86_400_000, cfg.pool_size
    (7, 166)
    >>> SimulationConfig(sessions=0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: SimulationConfig.sessions must be an int >= 1, got 0
    """

    sessions: int = 1000
    days: float = 0.0
    seed: int = 42
    end_ms: int | None = None
    rate: float | None = None
    bad_rate: float = 0.0
    disorder_ms: int = 0
    iso_timestamp_rate: float = 0.0
    products: int = 1500
    shoppers: int | None = None
    currency: str = "USD"
    categories: int | None = None

    def __post_init__(self) -> None:
        _check_int("sessions", self.sessions, 1, None)
        _check_number("days", self.days, 0, MAX_DAYS, upper_open=False)
        _check_int("seed", self.seed, None, None)
        if self.end_ms is not None:
            _check_int("end_ms", self.end_ms, 0, None)
        if self.rate is not None:
            _check_number("rate", self.rate, 0, None, lower_open=True)
            if self.days > 0:
                # Live mode stamps events with the wall clock; a backfill has no meaning.
                msg = ("SimulationConfig.rate (live mode) cannot be combined with "
                       f"SimulationConfig.days > 0 (backfill), got days={self.days!r}")
                raise ConfigError(msg)
        _check_number("bad_rate", self.bad_rate, 0, 1, upper_open=True)
        _check_int("disorder_ms", self.disorder_ms, 0, _MAX_DISORDER_MS)
        _check_number("iso_timestamp_rate", self.iso_timestamp_rate, 0, 1, upper_open=False)
        if self.categories is not None:
            _check_int("categories", self.categories, 1, 15)
        least = 30 if self.categories is None else 2 * self.categories
        _check_int("products", self.products, least, None)
        if self.shoppers is not None:
            _check_int("shoppers", self.shoppers, 1, None)
        if not (isinstance(self.currency, str) and len(self.currency) == 3
                and self.currency.isalpha() and self.currency.isupper()):
            msg = ("SimulationConfig.currency must be a 3-letter upper-case ISO 4217 code, "
                   f"got {self.currency!r}")
            raise ConfigError(msg)

    @property
    def window_ms(self) -> int:
        """Length of the window in which sessions start."""
        return round(self.days * _DAY_MS) if self.days > 0 else _HOUR_MS

    @property
    def pool_size(self) -> int:
        """Initial number of shoppers to pick from."""
        return self.shoppers if self.shoppers is not None else max(1, self.sessions // 3)


def _check_int(name: str, value: object, low: int | None, high: int | None) -> None:
    if (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low) and (high is None or value <= high)):
        return
    lo = "" if low is None else f" >= {low}"
    hi = "" if high is None else f" <= {high}"
    both = f"{lo} and{hi}" if lo and hi else lo or hi
    msg = f"SimulationConfig.{name} must be an int{both}, got {value!r}"
    raise ConfigError(msg)


def _check_number(name: str, value: object, low: float, high: float | None, *,
                  lower_open: bool = False, upper_open: bool = False) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        above = value > low if lower_open else value >= low
        below = high is None or (value < high if upper_open else value <= high)
        if above and below:
            return
    left = "(" if lower_open else "["
    if high is None:
        span = f"> {low:g}" if lower_open else f">= {low:g}"
    else:
        span = f"in {left}{low:g}, {high:g}{')' if upper_open else ']'}"
    msg = f"SimulationConfig.{name} must be a number {span}, got {value!r}"
    raise ConfigError(msg)
