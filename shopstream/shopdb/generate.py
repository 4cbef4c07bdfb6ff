"""Fill an empty shop database with a seeded, realistic catalog and customers.

The catalog is the simulator's (:func:`shopstream.sim.catalog.build_catalog`): category
names, brand + adjective + noun product names (the brand also in ``products.brand``),
log-normal prices that end in .99, and the hidden bundles that shoppers act on.
Customers are the simulator's shoppers (country, region, favourite device) with names
and e-mail addresses. The seed and sizes are kept in ``shop_meta`` so ``shopstream db
simulate`` rebuilds the same catalog and its affinities.

Examples
--------
>>> GenerateConfig(categories=15, products=200, customers=100).products
200
>>> GenerateConfig(categories=20)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: GenerateConfig.categories must be an int in 1..15, got 20
>>> customer_rows(GenerateConfig(customers=2, seed=1))[0][:3]
('chloe.rossi0@example.com', 'Chloe', 'Rossi')
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from shopstream.errors import ConfigError, require
from shopstream.shopdb.connection import ShopDbError, connected
from shopstream.sim.catalog import Catalog, build_catalog
from shopstream.sim.shoppers import ShopperPool
from shopstream.sim.words import CATEGORIES

__all__ = ["GenerateConfig", "GenerateSummary", "catalog_of", "customer_rows", "generate"]

_MAX_CATEGORIES = len(CATEGORIES)
_SLUGS = {spec.name: spec.slug for spec in CATEGORIES}
_FIRST = ("Ava", "Liam", "Olivia", "Noah", "Emma", "Lucas", "Mia", "Leon", "Sofia", "Mateo",
          "Amelia", "Hugo", "Isla", "Arjun", "Chloe", "Kenji", "Zoe", "Elias", "Nora",
          "Omar", "Lena", "Diego", "Hannah", "Felix", "Aisha", "Jonas", "Clara", "Ravi",
          "Julia", "Tom")
_LAST = ("Collins", "Smith", "Müller", "Garcia", "Rossi", "Martin", "Nowak", "Silva",
         "Johansson", "Murphy", "Tanaka", "Patel", "Dubois", "Jansen", "Schmidt", "Brown",
         "Lopez", "Kowalski", "Bianchi", "Fischer", "Wilson", "Moreau", "Santos", "Kelly",
         "Andersson", "Weber", "Taylor", "Novak", "Costa", "Sato")


@dataclass(frozen=True)
class GenerateConfig:
    """What ``shopstream db generate`` creates.

    Parameters
    ----------
    categories
        How many of the 15 catalog categories to use.
    products
        Products, at least two per category.
    customers
        Customers (>= 1).
    seed
        Seed of the catalog and the customers: same configuration, same rows.
    """

    categories: int = 15
    products: int = 200
    customers: int = 100
    seed: int = 42

    def __post_init__(self) -> None:
        if not _is_int(self.categories) or not 1 <= self.categories <= _MAX_CATEGORIES:
            msg = (f"GenerateConfig.categories must be an int in 1..{_MAX_CATEGORIES}, "
                   f"got {self.categories!r}")
            raise ConfigError(msg)
        if not _is_int(self.products) or self.products < 2 * self.categories:
            msg = (f"GenerateConfig.products must be an int >= {2 * self.categories} (two per "
                   f"category), got {self.products!r}")
            raise ConfigError(msg)
        if not _is_int(self.customers) or self.customers < 1:
            msg = f"GenerateConfig.customers must be an int >= 1, got {self.customers!r}"
            raise ConfigError(msg)
        if not _is_int(self.seed):
            msg = f"GenerateConfig.seed must be an int, got {self.seed!r}"
            raise ConfigError(msg)


@dataclass(frozen=True)
class GenerateSummary:
    """Rows written by :func:`generate`."""

    categories: int
    products: int
    customers: int
    seed: int


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def catalog_of(config: GenerateConfig) -> Catalog:
    """The simulator catalog behind a generated shop."""
    return build_catalog(config.seed, config.products, config.categories)


def customer_rows(config: GenerateConfig) -> list[tuple[str, str, str, str, str, str, str]]:
    """``(email, first, last, country, region, device, platform)`` per customer, in the
    order of the simulator's shopper pool."""
    catalog_categories = tuple(s.name for s in CATEGORIES[:config.categories])
    pool = ShopperPool(config.seed, catalog_categories, config.customers)
    rng = random.Random(f"shopstream-customers:{config.seed}")
    rows = []
    for i in range(config.customers):
        shopper = pool.get(i)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first}.{last}{i}@example.com".lower()
        rows.append((email, first, last, shopper.country, shopper.region, shopper.device,
                     shopper.platform))
    return rows


def generate(dsn: str, config: GenerateConfig) -> GenerateSummary:
    """Write categories, products and customers into an empty shop (one transaction)."""
    catalog = catalog_of(config)
    rng = random.Random(f"shopstream-stock:{config.seed}")
    extras = require("psycopg2.extras", "shopstream[postgres]")
    with connected(dsn) as conn, conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM products")
        row: Any = cur.fetchone()
        if row[0]:
            msg = (f"the shop already has {row[0]} products: run `shopstream db clear` "
                   "(or `db reset`) before generating")
            raise ShopDbError(msg)
        ids: dict[str, int] = {}
        for name in catalog.categories:
            cur.execute("INSERT INTO categories (name, slug) VALUES (%s, %s) RETURNING id",
                        (name, _SLUGS[name]))
            row = cur.fetchone()
            ids[name] = row[0]
        extras.execute_values(
            cur,
            "INSERT INTO products (sku, name, description, price, stock, category_id, "
            "brand) VALUES %s",
            [(p.product_id, p.name, _description(p.name, p.brand, p.noun, p.category),
              p.price, rng.randint(20, 500), ids[p.category], p.brand)
             for p in catalog.products])
        extras.execute_values(
            cur,
            "INSERT INTO customers (email, first_name, last_name, country, region, "
            "device, platform) VALUES %s", customer_rows(config))
        extras.execute_values(
            cur, "INSERT INTO shop_meta (key, value) VALUES %s "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [("seed", str(config.seed)), ("categories", str(config.categories)),
             ("products", str(config.products)), ("customers", str(config.customers))])
    return GenerateSummary(len(catalog.categories), len(catalog.products), config.customers,
                           config.seed)


def _description(name: str, brand: str, noun: str, category: str) -> str:
    return (f"{name}: a {noun.lower()} by {brand}, from our {category} range. "
            "Free returns within 30 days.")
