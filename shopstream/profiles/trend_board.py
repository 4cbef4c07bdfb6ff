"""The category trends a profile reads, by event time: what the trend stages last said
about each category, kept beside the Customer 360 operator (a broadcast input).

:class:`TrendBoard` keeps, per category, the newest ``versions`` readings of the
``category-trends`` stream (:class:`~shopstream.events.trends.EntityTrend`), each in
force from its ``window_end`` (a reading is emitted when its window closes, so it is
known from then on). :meth:`TrendBoard.at` answers with the newest reading of a
category in force at a time, and nothing when that reading is older than ``max_age_ms``
(a category that went quiet: its trend operator stops reading it). Product readings are
not kept; a reading with too little data to judge is ``stable`` with strength 0, as the
trend stages emit it.

Which readings answer depends only on the readings received, not on their arrival
order, while no category is pushed out by the caps: a reading arriving after newer ones
of its category takes its place in their order (and falls off at once when
``versions`` newer ones are there); a reading received twice is kept once. Beyond
``max_categories`` categories the one whose newest reading is oldest (ties: the
alphabetically last) is dropped.

Its caps are a :class:`TrendBoardConfig`. Bounds: ``max_categories * versions`` readings
of five fields; :meth:`~TrendBoard.apply`
is ``O(versions)`` (``O(max_categories)`` when a category must be dropped),
:meth:`~TrendBoard.at` ``O(versions)``.

Examples
--------
>>> from shopstream.events.trends import EntityTrend, TrendFigures
>>> def reading(category, end, label, strength=0.8):
...     figures = TrendFigures(label=label, strength=strength, direction="up",
...                            confidence=0.9, velocity=1.0, acceleration=0.0, level=5.0,
...                            change=0.4, days=7.0, views=50, adds=5, purchases=2,
...                            seasonality="own")
...     return EntityTrend.of("category", category, end - 100, end, figures)
>>> board = TrendBoard(TrendBoardConfig(max_categories=2, versions=2, max_age_ms=1_000))
>>> board.apply(reading("Toys", 500, "rising"))
>>> board.apply(reading("Toys", 200, "stable"))  # older, arrives later
>>> [(t, getattr(board.at("Toys", t), "label", None)) for t in (199, 200, 499, 500, 1_500,
...                                                           1_501)]
[(199, None), (200, 'stable'), (499, 'stable'), (500, 'rising'), (1500, 'rising'), (1501, None)]
>>> board.apply(reading("Food", 600, "falling"))
>>> board.apply(reading("Garden", 700, "rising"))  # a third category: Toys (oldest) goes
>>> sorted(board.categories())
['Food', 'Garden']
>>> board.rising([("Food", 0.7), ("Garden", 0.3)], 800, min_strength=0.5)
RisingCategory(category='Garden', share=0.3, strength=0.8, confidence=0.9)
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from shopstream.errors import require_positive
from shopstream.events.trends import CATEGORY, EntityTrend
from shopstream.profiles.actions import RisingCategory

__all__ = ["CategoryReading", "TrendBoard", "TrendBoardConfig"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class TrendBoardConfig:
    """The caps of a :class:`TrendBoard` (the defaults are ``ProfilesConfig``'s).

    Parameters
    ----------
    max_categories
        Categories kept; beyond it the one whose newest reading is oldest goes.
    versions
        Readings kept per category (the newest by ``window_end``).
    max_age_ms
        A reading older than this at the time asked is not used (0: only at its own time).

    Examples
    --------
    >>> TrendBoardConfig(versions=0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: TrendBoardConfig.versions must be > 0, got 0
    """

    max_categories: int = 1_024
    versions: int = 2
    max_age_ms: int = 2 * _DAY_MS

    def __post_init__(self) -> None:
        require_positive(self, "max_categories", "versions")
        require_positive(self, "max_age_ms", allow_zero=True)


class CategoryReading(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What a profile needs of one category reading, in force from ``valid_from``."""

    category: str
    valid_from: int
    label: str
    strength: float
    confidence: float


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list[CategoryReading]).decode


class TrendBoard:
    """The newest category readings by event time (see the module docs)."""

    def __init__(self, config: TrendBoardConfig | None = None) -> None:
        self.config = config or TrendBoardConfig()
        #: Category -> its readings, oldest first (at most ``versions``).
        self._readings: dict[str, list[CategoryReading]] = {}

    def __len__(self) -> int:
        return sum(len(held) for held in self._readings.values())

    def categories(self) -> list[str]:
        """The categories held."""
        return list(self._readings)

    def apply(self, trend: EntityTrend) -> None:
        """Keep a category reading (a product reading: nothing)."""
        if trend.entity != CATEGORY:
            return
        self._keep(CategoryReading(trend.entity_id, trend.window_end, trend.label,
                                   trend.strength, trend.confidence))

    def at(self, category: str, time_ms: int) -> CategoryReading | None:
        """The reading of ``category`` in force at ``time_ms`` (``None``: none, or older
        than ``max_age_ms``)."""
        for reading in reversed(self._readings.get(category, ())):
            if reading.valid_from <= time_ms:
                return reading if time_ms - reading.valid_from <= self.config.max_age_ms else None
        return None

    def rising(self, categories: list[tuple[str, float]] | None, time_ms: int,
               min_strength: float) -> RisingCategory | None:
        """The first of ``categories`` (``(category, share)``, strongest first) whose
        reading at ``time_ms`` is ``rising`` with strength ``>= min_strength``
        (``O(len(categories) x versions)``)."""
        if not categories or not self._readings:
            return None
        for category, share in categories:
            reading = self.at(category, time_ms)
            if reading is not None and reading.label == "rising" \
                    and reading.strength >= min_strength:
                return RisingCategory(category, share, reading.strength, reading.confidence)
        return None

    def snapshot(self) -> bytes | None:
        """The readings as one JSON document (``None`` when there are none)."""
        if not self._readings:
            return None
        return _encode([r for held in self._readings.values() for r in held])

    def restore(self, snapshot: bytes) -> None:
        """Put back what :meth:`snapshot` returned."""
        self._readings = {}
        for reading in _decode(snapshot):
            self._keep(reading)

    def _keep(self, reading: CategoryReading) -> None:
        held = self._readings.get(reading.category)
        if held is None:
            held = self._readings[reading.category] = []
        if reading in held:
            return
        held.append(reading)
        held.sort(key=_order)
        del held[:-self.config.versions]
        if len(self._readings) > self.config.max_categories:
            stale = min(self._readings.items(), key=_staleness)[0]
            del self._readings[stale]


def _order(reading: CategoryReading) -> tuple[int, str, float, float]:
    return reading.valid_from, reading.label, reading.strength, reading.confidence


def _staleness(item: tuple[str, list[CategoryReading]]) -> tuple[int, _Reverse]:
    category, held = item
    return held[-1].valid_from, _Reverse(category)


class _Reverse(str):
    """A string that sorts backwards (the alphabetically last is the least)."""

    __slots__ = ()

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)
