"""Simulated shoppers: who they are, where they live, what they shop for, on what device.

A :class:`ShopperPool` creates shoppers lazily in index order from its own random
stream, so the same seed always yields the same shoppers however many are needed.
Shoppers are picked with a power-law bias: a few loyal ones come back often, most
visit once or twice.

Examples
--------
>>> import random
>>> from shopstream.sim.catalog import build_catalog
>>> pool = ShopperPool(seed=3, categories=build_catalog(3, 100).categories, size=50)
>>> s = pool.get(0)
>>> s.user_id, s.platform in ("web", "ios", "android")
('U000000', True)
>>> pool.get(0) is s
True
>>> 0 <= pool.pick(random.Random(1)) < 50
True
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate, combinations

import msgspec

__all__ = ["COUNTRIES", "DEVICES", "Shopper", "ShopperPool"]

# (ISO country code, relative traffic, regions)
COUNTRIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("US", 34, ("California", "Texas", "New York", "Florida", "Illinois", "Washington",
                "Georgia", "Ohio")),
    ("GB", 10, ("England", "Scotland", "Wales", "Northern Ireland")),
    ("DE", 10, ("Bavaria", "Berlin", "Hesse", "North Rhine-Westphalia", "Hamburg")),
    ("FR", 7, ("Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie", "Brittany")),
    ("CA", 6, ("Ontario", "Quebec", "British Columbia", "Alberta")),
    ("AU", 4, ("New South Wales", "Victoria", "Queensland")),
    ("NL", 4, ("North Holland", "South Holland", "Utrecht")),
    ("ES", 4, ("Madrid", "Catalonia", "Andalusia")),
    ("IT", 4, ("Lombardy", "Lazio", "Veneto")),
    ("BR", 4, ("São Paulo", "Rio de Janeiro", "Minas Gerais")),
    ("IN", 4, ("Maharashtra", "Karnataka", "Delhi")),
    ("PL", 3, ("Masovia", "Lesser Poland")),
    ("SE", 2, ("Stockholm", "Västra Götaland")),
    ("IE", 2, ("Leinster", "Munster")),
    ("JP", 2, ("Tokyo", "Osaka")),
)

# (device, platform, relative share of shoppers)
DEVICES: tuple[tuple[str, str, float], ...] = (
    ("desktop", "web", 38),
    ("mobile", "ios", 22),
    ("mobile", "android", 24),
    ("mobile", "web", 8),
    ("tablet", "ios", 5),
    ("tablet", "android", 3),
)

_COUNTRY_CUM = tuple(accumulate(c[1] for c in COUNTRIES))
_DEVICE_CUM = tuple(accumulate(d[2] for d in DEVICES))
# Larger means loyal shoppers come back more often (index = floor(size * u ** _LOYALTY)).
_LOYALTY = 1.6


class Shopper(msgspec.Struct, frozen=True):
    """A shopper's stable traits; sessions may still vary the device.

    A msgspec struct rather than a dataclass: one is created per new visitor, and
    frozen dataclasses are slow to construct.
    """

    index: int
    user_id: str
    country: str
    region: str
    device: str
    platform: str
    categories: tuple[str, ...]


class ShopperPool:
    """Shoppers created on demand, in order, from one seed.

    Parameters
    ----------
    seed
        Seed of the pool's own random stream.
    categories
        The catalog's categories; each shopper prefers two or three of them.
    size
        Shoppers that :meth:`pick` chooses among; :meth:`add` grows it.

    Examples
    --------
    >>> pool = ShopperPool(seed=1, categories=("Books", "Toys", "Music"), size=2)
    >>> pool.add(), pool.size
    (2, 3)
    >>> set(pool.get(2).categories) <= {"Books", "Toys", "Music"}
    True
    """

    def __init__(self, seed: int, categories: tuple[str, ...], size: int) -> None:
        self.categories = categories
        self._pairs: list[tuple[str, ...]] = list(combinations(categories, 2)) or [categories]
        self._triples: list[tuple[str, ...]] = list(combinations(categories, 3))
        self._rng = random.Random(f"shopstream-shoppers:{seed}")
        self._shoppers: list[Shopper] = []
        self.size = max(1, size)

    def get(self, index: int) -> Shopper:
        """Shopper number ``index``, created (with all before it) on first use."""
        while len(self._shoppers) <= index:
            self._shoppers.append(self._create(len(self._shoppers)))
        return self._shoppers[index]

    def pick(self, rng: random.Random) -> int:
        """A shopper index, biased toward low indices (the loyal regulars)."""
        return int(self.size * rng.random() ** _LOYALTY)

    def add(self) -> int:
        """Grow the pool by one new shopper and return its index."""
        self.size += 1
        return self.size - 1

    def session_device(self, shopper: Shopper, rng: random.Random) -> tuple[str, str]:
        """The device and platform of one session: usually the shopper's favourite."""
        if rng.random() < 0.85:
            return shopper.device, shopper.platform
        device, platform, _ = DEVICES[bisect(_DEVICE_CUM, rng.random() * _DEVICE_CUM[-1])]
        return device, platform

    def _favourites(self, rng: random.Random) -> tuple[str, ...]:
        # Two categories, or three one time in three; drawn from the precomputed
        # combinations because a shopper is created for almost every session of a short
        # window, and rng.sample is slow for such tiny draws.
        pairs, triples = self._pairs, self._triples
        if rng.random() < 1 / 3 and triples:
            return triples[int(rng.random() * len(triples))]
        return pairs[int(rng.random() * len(pairs))]

    def _create(self, index: int) -> Shopper:
        rng = self._rng
        country, _, regions = COUNTRIES[bisect(_COUNTRY_CUM, rng.random() * _COUNTRY_CUM[-1])]
        device, platform, _ = DEVICES[bisect(_DEVICE_CUM, rng.random() * _DEVICE_CUM[-1])]
        region = regions[int(rng.random() * len(regions))]
        return Shopper(index, f"U{index:06d}", country, region, device, platform,
                       self._favourites(rng))
