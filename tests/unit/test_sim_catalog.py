"""The simulated catalog: determinism, realistic products, and hidden affinities."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from shopstream.errors import ConfigError
from shopstream.sim.catalog import build_catalog
from shopstream.sim.words import CATEGORIES

EXPECTED_CATEGORIES = {
    "Electronics", "Books", "Home & Kitchen", "Sports", "Toys", "Beauty", "Grocery",
    "Fashion", "Garden", "Automotive", "Pet Supplies", "Office", "Music", "Health", "Baby",
}


def test_same_seed_same_catalog_different_seed_different() -> None:
    assert build_catalog(11, 600) == build_catalog(11, 600)
    assert build_catalog(11, 600).products != build_catalog(12, 600).products


def test_products_are_realistic() -> None:
    cat = build_catalog(3, 1500)
    assert len(cat.products) == 1500
    assert set(cat.categories) == EXPECTED_CATEGORIES
    ids = [p.product_id for p in cat.products]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"P\d{5}", pid) for pid in ids)
    names = [p.name for p in cat.products]
    assert len(set(names)) == len(names)
    specs = {spec.name: spec for spec in CATEGORIES}
    for p in cat.products:
        spec = specs[p.category]
        assert p.name.endswith(p.noun) and p.name.startswith(p.brand)
        assert spec.min_price - 1 <= p.price <= spec.max_price
        assert p.price == round(p.price, 2) and p.price > 0
    per_category = Counter(p.category for p in cat.products)
    assert min(per_category.values()) >= 40


def test_prices_differ_by_category() -> None:
    cat = build_catalog(3, 1500)

    def median(category: str) -> float:
        prices = sorted(p.price for p in cat.in_category(category))
        return prices[len(prices) // 2]

    assert median("Electronics") > 3 * median("Grocery")


def test_popularity_has_a_long_tail() -> None:
    cat = build_catalog(5, 1000)
    weights = sorted((p.popularity for p in cat.products), reverse=True)
    top_decile = sum(weights[:100]) / sum(weights)
    assert top_decile > 0.5


def test_bundles_are_small_disjoint_groups_within_a_category() -> None:
    cat = build_catalog(7, 1500)
    assert len(cat.bundles) >= 40
    seen: set[str] = set()
    for bundle in cat.bundles:
        assert 2 <= len(bundle.product_ids) <= 4
        assert len(set(bundle.product_ids)) == len(bundle.product_ids)
        assert not seen & set(bundle.product_ids)
        seen |= set(bundle.product_ids)
        assert len({cat.product(pid).category for pid in bundle.product_ids}) == 1
        anchor = cat.product(bundle.product_ids[0])
        assert {p.product_id for p in cat.bundle_partners(anchor)} == set(
            bundle.product_ids[1:])


def test_phone_bundles_follow_their_theme() -> None:
    cat = build_catalog(7, 1500)
    phone_bundles = [b for b in cat.bundles
                     if cat.product(b.product_ids[0]).noun == "Smartphone"]
    assert phone_bundles
    nouns = {cat.product(pid).noun for b in phone_bundles for pid in b.product_ids[1:]}
    assert nouns <= {"Phone Case", "Fast Charger", "Screen Protector"}


def test_complements_link_distinct_products() -> None:
    cat = build_catalog(7, 1500)
    assert len(cat.complements) >= 50
    for comp in cat.complements:
        assert comp.source != comp.target
        assert cat.product(comp.target) in cat.complements_of(cat.product(comp.source))
    coffee = [c for c in cat.complements if cat.product(c.source).noun == "Coffee Maker"]
    assert coffee and all(cat.product(c.target).noun == "Ground Coffee" for c in coffee)


def test_sampling_follows_popularity() -> None:
    cat = build_catalog(9, 800)
    rng = random.Random(0)
    draws = Counter(cat.sample_product(rng, "Books").product_id for _ in range(20_000))
    top = max(cat.in_category("Books"), key=lambda p: p.popularity)
    bottom = min(cat.in_category("Books"), key=lambda p: p.popularity)
    assert draws[top.product_id] > 10 * max(1, draws[bottom.product_id])
    assert all(cat.product(pid).category == "Books" for pid in draws)


@pytest.mark.parametrize("bad", [0, 29, -5, 2.5, True])
def test_too_small_or_wrong_type_catalog_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="n_products"):
        build_catalog(1, bad)  # type: ignore[arg-type]


def test_a_catalog_can_use_only_the_first_categories() -> None:
    cat = build_catalog(4, 60, n_categories=3)
    assert len(cat.categories) == 3 and len(cat.products) == 60
    assert {p.category for p in cat.products} == set(cat.categories)
    assert all(cat.product(pid).category in cat.categories
               for b in cat.bundles for pid in b.product_ids)
    assert build_catalog(4, 60, n_categories=3) == cat
    assert build_catalog(4, 300, n_categories=15) == build_catalog(4, 300)


@pytest.mark.parametrize("bad", [0, 16, 2.0])
def test_a_category_count_outside_the_catalog_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="n_categories"):
        build_catalog(1, 100, n_categories=bad)  # type: ignore[arg-type]
