"""A deterministic product catalog with hidden affinities.

The catalog is built from a seed: products with ids, names, categories, prices and a
Zipf-like popularity, plus two kinds of affinity that shoppers act on but never see:
*bundles* (2-4 products usually bought together, e.g. phone + case + charger) and
*complements* (owning product A makes product B likely). They are exposed here so tests
and offline evaluation can check that mining and recommendations recover them.

Examples
--------
>>> import random
>>> cat = build_catalog(seed=7, n_products=300)
>>> len(cat.products), len(cat.categories)
(300, 15)
>>> cat.products[0].product_id
'P00000'
>>> cat == build_catalog(seed=7, n_products=300)
True
>>> all(2 <= len(b.product_ids) <= 4 for b in cat.bundles)
True
>>> p = cat.sample_product(random.Random(1), "Electronics")
>>> p.category
'Electronics'
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import accumulate

from shopstream.errors import ConfigError
from shopstream.sim.words import CATEGORIES, COMPLEMENT_NOUNS, CategorySpec

__all__ = ["SHOP_URL", "Bundle", "Catalog", "Complement", "Product", "build_catalog"]

SHOP_URL = "https://shop.example.com"
MIN_PRODUCTS = 30
# Zipf exponent of popularity: ~1 gives the familiar long tail where the top 1% of
# products draw a sizeable share of all views.
_ZIPF_S = 1.05


@dataclass(frozen=True, slots=True)
class Product:
    """One product of the catalog; ``index`` is its position in ``Catalog.products``."""

    index: int
    product_id: str
    name: str
    category: str
    noun: str
    brand: str
    price: float
    popularity: float
    max_quantity: int
    page_url: str


@dataclass(frozen=True, slots=True)
class Bundle:
    """Products usually bought together; the first is the anchor."""

    bundle_id: str
    product_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Complement:
    """Buying ``source`` makes buying ``target`` likely (directed)."""

    source: str
    target: str


@dataclass(frozen=True)
class Catalog:
    """Products and their hidden affinities, with popularity-weighted sampling.

    Build one with :func:`build_catalog`; the lookup tables are derived in
    ``__post_init__`` and are not part of equality. The simulation of a
    :class:`~shopstream.sim.config.SimulationConfig` uses
    ``build_catalog(config.seed, config.products)``, so evaluation code can rebuild the
    ground truth from the configuration alone.

    Examples
    --------
    >>> cat = build_catalog(seed=2, n_products=400)
    >>> bundle = cat.bundles[0]
    >>> anchor = cat.product(bundle.product_ids[0])
    >>> [p.product_id for p in cat.bundle_partners(anchor)] == list(bundle.product_ids[1:])
    True
    >>> all(p.category == "Garden" for p in cat.in_category("Garden"))
    True
    """

    seed: int
    products: tuple[Product, ...]
    bundles: tuple[Bundle, ...]
    complements: tuple[Complement, ...]
    categories: tuple[str, ...]
    _by_id: dict[str, Product] = field(init=False, repr=False, compare=False)
    _by_cat: dict[str, tuple[Product, ...]] = field(init=False, repr=False, compare=False)
    _cum: dict[str, list[float]] = field(init=False, repr=False, compare=False)
    _by_noun: dict[tuple[str, str], tuple[Product, ...]] = field(
        init=False, repr=False, compare=False
    )
    _partners: dict[int, tuple[Product, ...]] = field(init=False, repr=False, compare=False)
    _complements: dict[int, tuple[Product, ...]] = field(
        init=False, repr=False, compare=False
    )
    _cat_cum: list[float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {p.product_id: p for p in self.products}
        by_cat: dict[str, list[Product]] = defaultdict(list)
        by_noun: dict[tuple[str, str], list[Product]] = defaultdict(list)
        for p in self.products:
            by_cat[p.category].append(p)
            by_noun[(p.category, p.noun)].append(p)
        partners: dict[int, list[Product]] = defaultdict(list)
        for b in self.bundles:
            members = [by_id[pid] for pid in b.product_ids]
            for m in members:
                partners[m.index].extend(o for o in members if o is not m)
        comps: dict[int, list[Product]] = defaultdict(list)
        for c in self.complements:
            comps[by_id[c.source].index].append(by_id[c.target])
        setattr_ = object.__setattr__
        setattr_(self, "_by_id", by_id)
        setattr_(self, "_by_cat", {k: tuple(v) for k, v in by_cat.items()})
        setattr_(self, "_cum", {k: list(accumulate(p.popularity for p in v))
                                for k, v in by_cat.items()})
        setattr_(self, "_by_noun", {k: tuple(v) for k, v in by_noun.items()})
        setattr_(self, "_partners", {k: tuple(v) for k, v in partners.items()})
        setattr_(self, "_complements", {k: tuple(v) for k, v in comps.items()})
        setattr_(self, "_cat_cum", list(accumulate(self._cum[c][-1] for c in self.categories)))

    def product(self, product_id: str) -> Product:
        """The product with id ``product_id`` (``KeyError`` if unknown)."""
        return self._by_id[product_id]

    def in_category(self, category: str) -> tuple[Product, ...]:
        """Every product of ``category``."""
        return self._by_cat[category]

    def with_noun(self, category: str, noun: str) -> tuple[Product, ...]:
        """Products of ``category`` whose name ends in ``noun`` (may be empty)."""
        return self._by_noun.get((category, noun), ())

    def bundle_partners(self, product: Product) -> tuple[Product, ...]:
        """The other members of ``product``'s bundle (empty if it has none)."""
        return self._partners.get(product.index, ())

    def complements_of(self, product: Product) -> tuple[Product, ...]:
        """Products that ``product`` makes likely."""
        return self._complements.get(product.index, ())

    def sample_product(self, rng: random.Random, category: str) -> Product:
        """A product of ``category`` drawn by popularity."""
        cum = self._cum[category]
        return self._by_cat[category][bisect(cum, rng.random() * cum[-1])]

    def sample_category(self, rng: random.Random) -> str:
        """A category drawn by the total popularity of its products."""
        cum = self._cat_cum
        return self.categories[bisect(cum, rng.random() * cum[-1])]


def build_catalog(seed: int, n_products: int = 1500,
                  n_categories: int | None = None) -> Catalog:
    """Build the catalog for ``seed``: same arguments, equal catalog.

    Parameters
    ----------
    seed
        Seed of the catalog's own random stream.
    n_products
        Number of products, at least two per category (30 with every category).
    n_categories
        Use only the first ``n_categories`` of the 15 categories; ``None`` uses all.

    Examples
    --------
    >>> cat = build_catalog(seed=1, n_products=200)
    >>> sum(p.popularity for p in cat.products) > 0
    True
    >>> build_catalog(seed=1, n_products=5)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: n_products must be an int >= 30, got 5
    >>> build_catalog(seed=1, n_products=40, n_categories=4).categories
    ('Electronics', 'Books', 'Home & Kitchen', 'Sports')
    """
    if n_categories is not None and (
            isinstance(n_categories, bool) or not isinstance(n_categories, int)
            or not 1 <= n_categories <= len(CATEGORIES)):
        msg = f"n_categories must be an int in 1..{len(CATEGORIES)}, got {n_categories!r}"
        raise ConfigError(msg)
    specs = CATEGORIES[:n_categories] if n_categories is not None else CATEGORIES
    least = MIN_PRODUCTS if n_categories is None else 2 * n_categories
    if isinstance(n_products, bool) or not isinstance(n_products, int) or (
        n_products < least
    ):
        msg = f"n_products must be an int >= {least}, got {n_products!r}"
        raise ConfigError(msg)
    rng = random.Random(f"shopstream-catalog:{seed}")
    products = _make_products(rng, n_products, specs)
    bundles = _make_bundles(rng, products, specs)
    complements = _make_complements(rng, products)
    return Catalog(seed, tuple(products), bundles, complements,
                   tuple(spec.name for spec in specs))


def _category_counts(n_products: int, specs: tuple[CategorySpec, ...]) -> list[int]:
    total = sum(spec.share for spec in specs)
    exact = [n_products * spec.share / total for spec in specs]
    counts = [max(2, math.floor(x)) for x in exact]
    # Hand out what flooring left over to the largest remainders, so the sum is exact.
    order = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    i = 0
    while sum(counts) < n_products:
        counts[order[i % len(order)]] += 1
        i += 1
    while sum(counts) > n_products:
        j = max(range(len(counts)), key=lambda k: counts[k])
        counts[j] -= 1
    return counts


def _make_products(rng: random.Random, n_products: int,
                   specs: tuple[CategorySpec, ...]) -> list[Product]:
    ranks = list(range(n_products))
    rng.shuffle(ranks)
    products: list[Product] = []
    seen: set[str] = set()
    for spec, count in zip(specs, _category_counts(n_products, specs), strict=True):
        # Every noun appears once before any repeats, so bundle themes can be filled.
        nouns = list(spec.nouns)
        rng.shuffle(nouns)
        nouns += [rng.choice(spec.nouns) for _ in range(count - len(nouns))]
        for noun in nouns[:count]:
            index = len(products)
            brand, name = _unique_name(rng, spec, noun, seen)
            products.append(Product(
                index=index,
                product_id=f"P{index:05d}",
                name=name,
                category=spec.name,
                noun=noun,
                brand=brand,
                price=_price(rng, spec),
                popularity=1.0 / (ranks[index] + 1) ** _ZIPF_S,
                max_quantity=spec.max_quantity,
                page_url=f"{SHOP_URL}/p/P{index:05d}",
            ))
    return products


def _unique_name(rng: random.Random, spec: CategorySpec, noun: str,
                 seen: set[str]) -> tuple[str, str]:
    brand = rng.choice(spec.brands)
    name = f"{brand} {rng.choice(spec.adjectives)} {noun}"
    for _ in range(8):
        if name not in seen:
            break
        brand = rng.choice(spec.brands)
        name = f"{brand} {rng.choice(spec.adjectives)} {noun}"
    base, n = name, 2
    while name in seen:
        name, n = f"{base} {n}", n + 1
    seen.add(name)
    return brand, name


def _price(rng: random.Random, spec: CategorySpec) -> float:
    raw = rng.lognormvariate(math.log(spec.median_price), spec.price_sigma)
    raw = min(max(raw, spec.min_price), spec.max_price)
    if raw < 5:
        return round(raw, 2)
    # Shops price just under round numbers: 24.99, 24.49, 24.95, sometimes a plain 25.
    cents = rng.choices((0.99, 0.49, 0.95, 1.0), weights=(60, 15, 10, 15))[0]
    return round(math.floor(raw) - 1 + cents, 2) if cents < 1 else float(math.floor(raw))


def _pick(rng: random.Random, candidates: list[Product]) -> Product:
    cum = list(accumulate(p.popularity for p in candidates))
    return candidates[bisect(cum, rng.random() * cum[-1])]


def _make_bundles(rng: random.Random, products: list[Product],
                  specs: tuple[CategorySpec, ...]) -> tuple[Bundle, ...]:
    by_noun: dict[tuple[str, str], list[Product]] = defaultdict(list)
    for p in products:
        by_noun[(p.category, p.noun)].append(p)
    themes = [(spec.name, theme) for spec in specs for theme in spec.bundles]
    used: set[int] = set()
    bundles: list[Bundle] = []
    wanted = max(len(themes), len(products) // 20)
    for attempt in range(wanted * 3):
        if len(bundles) >= wanted:
            break
        if attempt % len(themes) == 0:
            rng.shuffle(themes)
        category, theme = themes[attempt % len(themes)]
        size = len(theme) if rng.random() < 0.5 else rng.randint(2, len(theme))
        members = _fill_theme(rng, by_noun, category, theme[:size], used)
        if len(members) >= 2:
            used.update(m.index for m in members)
            bundles.append(Bundle(f"B{len(bundles):04d}",
                                  tuple(m.product_id for m in members)))
    return tuple(bundles)


def _fill_theme(rng: random.Random, by_noun: dict[tuple[str, str], list[Product]],
                category: str, theme: tuple[str, ...], used: set[int]) -> list[Product]:
    members: list[Product] = []
    for noun in theme:
        taken = used | {m.index for m in members}
        free = [p for p in by_noun[(category, noun)] if p.index not in taken]
        if not free:
            if not members:
                return []
            continue
        # Accessories often share the anchor's brand (Acme phone, Acme case).
        same = [p for p in free if members and p.brand == members[0].brand]
        members.append(_pick(rng, same if same and rng.random() < 0.6 else free))
    return members


def _make_complements(rng: random.Random,
                      products: list[Product]) -> tuple[Complement, ...]:
    by_noun: dict[tuple[str, str], list[Product]] = defaultdict(list)
    for p in products:
        by_noun[(p.category, p.noun)].append(p)
    out: list[Complement] = []
    for source_key, target_key in COMPLEMENT_NOUNS:
        targets = by_noun.get(target_key, [])
        if not targets:
            continue
        for source in by_noun.get(source_key, []):
            if rng.random() < 0.8:
                target = _pick(rng, targets)
                if target is not source:
                    out.append(Complement(source.product_id, target.product_id))
    return tuple(out)
