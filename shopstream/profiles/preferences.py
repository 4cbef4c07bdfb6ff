"""Decayed preference vectors: what a shopper leans to, with old interest fading away.

Each dimension (``category``, ``brand``, ``price``, ``hour``, ``weekday``, ``device``,
``platform``) maps values to weights. A touch at time ``t`` adds ``weight`` to its
value; every weight halves each ``half_life_ms`` of event time. Weights are kept as of
``ref_ms``, the newest time seen: a touch newer than ``ref_ms`` first decays everything
to its time, an older one is added already decayed, so the result does not depend on
the order in which touches arrive (up to float rounding).

Bound: at most ``max_entries`` values per dimension; adding a value beyond it drops the
weakest one (ties: the alphabetically last), so per-touch work is O(max_entries) at
worst and the memory of a shopper is at most ``len(DIMENSIONS) * max_entries`` entries
(7, plus the one-entry ``activity`` count the profile operator keeps).

Examples
--------
>>> config = PreferencesConfig(half_life_ms=1_000, max_entries=2)
>>> prefs = Preferences()
>>> add(prefs, "category", "Books", 1.0, 0, config)
>>> add(prefs, "category", "Toys", 1.0, 1_000, config)   # Books has halved
>>> top(prefs, "category")
[('Toys', 0.6667), ('Books', 0.3333)]
>>> add(prefs, "category", "Games", 0.1, 1_000, config)  # cap 2: the weakest goes
>>> top(prefs, "category")
[('Toys', 0.6667), ('Books', 0.3333)]
>>> price_band(12.5, config), hour_of_day(3_600_000), day_of_week(0)
('10-25', '01', 'Thu')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from operator import itemgetter

import msgspec

from shopstream.errors import ConfigError

__all__ = ["DIMENSIONS", "Preferences", "PreferencesConfig", "add", "advance", "bump",
           "day_of_week",
           "hour_of_day", "price_band", "top",
           "weight_at"]

#: The dimensions a profile tracks, in the order they are shown.
DIMENSIONS = ("category", "brand", "price", "hour", "weekday", "device", "platform")
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_WEIGHT = itemgetter(1)
_WEEKDAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")  # 1970-01-01 was a Thursday


@dataclass(frozen=True)
class PreferencesConfig:
    """Half-life of interest, the cap on values per dimension and the price bands.

    ``price_bands`` are the upper bounds of the bands (ascending); a price above the last
    one falls in ``"{last}+"``.
    """

    half_life_ms: int = 14 * _DAY_MS
    max_entries: int = 24
    price_bands: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0, 250.0)

    def __post_init__(self) -> None:
        if self.half_life_ms <= 0 or self.max_entries < 1:
            msg = (f"PreferencesConfig needs half_life_ms > 0 and max_entries >= 1, got "
                   f"half_life_ms={self.half_life_ms!r}, max_entries={self.max_entries!r}")
            raise ConfigError(msg)
        bands = self.price_bands
        if not bands or any(b <= 0 for b in bands) or list(bands) != sorted(set(bands)):
            msg = f"PreferencesConfig.price_bands must be ascending and > 0, got {bands!r}"
            raise ConfigError(msg)


class Preferences(msgspec.Struct, gc=False):
    """Weights per dimension and value, as of event time ``ref_ms``."""

    ref_ms: int = 0
    weights: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)


def advance(prefs: Preferences, ts_ms: int, config: PreferencesConfig) -> None:
    """Decay every weight to ``ts_ms`` when it is newer than ``ref_ms`` (one pass, so a
    batch of touches costs one decay of the whole vector, not one per touch)."""
    if ts_ms > prefs.ref_ms:
        if prefs.weights:
            factor = 0.5 ** ((ts_ms - prefs.ref_ms) / config.half_life_ms)
            for entries in prefs.weights.values():
                for key in entries:
                    entries[key] *= factor
        prefs.ref_ms = ts_ms


def weight_at(prefs: Preferences, dimension: str, value: str, ts_ms: int,
              config: PreferencesConfig) -> float:
    """The weight of ``value`` decayed to ``ts_ms`` (0 when absent).

    Examples
    --------
    >>> config = PreferencesConfig(half_life_ms=1_000)
    >>> prefs = Preferences()
    >>> add(prefs, "activity", "events", 4.0, 0, config)
    >>> weight_at(prefs, "activity", "events", 2_000, config)
    1.0
    """
    weight = prefs.weights.get(dimension, {}).get(value, 0.0)
    return float(weight * 0.5 ** ((ts_ms - prefs.ref_ms) / config.half_life_ms))


def add(prefs: Preferences, dimension: str, value: str, weight: float, ts_ms: int,
        config: PreferencesConfig) -> None:
    """Add ``weight`` for ``value`` of ``dimension`` touched at ``ts_ms`` (see module)."""
    if ts_ms > prefs.ref_ms:
        advance(prefs, ts_ms, config)
    elif ts_ms < prefs.ref_ms:
        weight *= 0.5 ** ((prefs.ref_ms - ts_ms) / config.half_life_ms)
    bump(prefs.weights, dimension, value, weight, config.max_entries)


def bump(weights: dict[str, dict[str, float]], dimension: str, value: str, weight: float,
         max_entries: int) -> None:
    """Add ``weight``, already decayed to the vector's ``ref_ms``, to ``value`` (the step
    :func:`add` ends with; for a caller that adds several touches of one time and
    computes their decay once). Beyond ``max_entries`` the weakest value goes."""
    entries = weights.get(dimension)
    if entries is None:
        entries = weights[dimension] = {}
    entries[value] = entries.get(value, 0.0) + weight
    if len(entries) > max_entries:
        low = min(entries.values())
        del entries[max(k for k, w in entries.items() if w == low)]


def top(prefs: Preferences, dimension: str, n: int = 5) -> list[tuple[str, float]]:
    """The ``n`` strongest values of ``dimension`` with their share of its weight
    (rounded to 4 places; equal weights keep the order in which values came)."""
    entries = prefs.weights.get(dimension)
    if not entries:
        return []
    total = sum(entries.values())
    if total <= 0:
        return []
    if len(entries) == 1:
        return [(next(iter(entries)), 1.0)]
    # What heapq.nlargest(n, ...) gives (it is defined as this), faster at these sizes.
    ranked = sorted(entries.items(), key=_WEIGHT, reverse=True)[:n]
    return [(key, round(weight / total, 4)) for key, weight in ranked]


def price_band(price: float, config: PreferencesConfig) -> str:
    """The band of ``price``: ``"lo-hi"`` with ``lo < price <= hi``, or ``"last+"``."""
    bands = config.price_bands
    labels = _band_labels(bands)
    for index, high in enumerate(bands):
        if price <= high:
            return labels[index]
    return labels[-1]


@functools.lru_cache(maxsize=64)
def _band_labels(bands: tuple[float, ...]) -> tuple[str, ...]:
    """``"lo-hi"`` of each band, then ``"last+"`` (formatted once per configuration)."""
    lows = (0.0, *bands)
    return (*(f"{low:g}-{high:g}" for low, high in zip(lows, bands, strict=False)),
            f"{bands[-1]:g}+")


_HOURS = tuple(f"{hour:02d}" for hour in range(24))


def hour_of_day(ts_ms: int) -> str:
    """The UTC hour of ``ts_ms``, two digits."""
    return _HOURS[ts_ms % _DAY_MS // _HOUR_MS]


def day_of_week(ts_ms: int) -> str:
    """The UTC weekday of ``ts_ms`` (``Mon`` ... ``Sun``)."""
    return _WEEKDAYS[ts_ms // _DAY_MS % 7]

