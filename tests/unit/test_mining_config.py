"""RulesConfig: validation at construction and exact threshold tests."""

from __future__ import annotations

import dataclasses

import pytest

from shopstream.errors import ConfigError
from shopstream.mining.config import RulesConfig


@pytest.mark.parametrize(("field", "value"), [
    ("min_support", 0.0), ("min_support", -0.1), ("min_support", 1.5),
    ("min_support", float("nan")), ("min_support", "0.1"),
    ("min_confidence", -0.01), ("min_confidence", 1.01), ("min_confidence", float("inf")),
    ("min_lift", -1.0), ("min_lift", True),
    ("max_len", 1), ("max_len", 2.0), ("max_len", False),
])
def test_bad_values_name_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        RulesConfig(**{field: value})  # type: ignore[arg-type]
    assert f"RulesConfig.{field}" in str(caught.value)
    assert repr(value) in str(caught.value)


def test_defaults() -> None:
    config = RulesConfig()
    assert (config.min_support, config.min_confidence, config.min_lift, config.max_len) == (
        0.01, 0.3, 1.0, 3)


def test_frozen_and_comparable() -> None:
    config = RulesConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_len = 4  # type: ignore[misc]
    assert config == RulesConfig()
    assert hash(config) == hash(RulesConfig())
    assert dataclasses.replace(config, max_len=4).max_len == 4


@pytest.mark.parametrize(("support", "baskets", "expected"), [
    (0.01, 15_183, 152), (0.01, 10_000, 100), (0.01, 10_001, 101), (0.001, 15_183, 16),
    (0.3, 10, 3), (0.7, 10, 7), (1.0, 7, 7), (0.5, 0, 1), (0.0001, 3, 1),
])
def test_min_count_is_exact_ceiling(support: float, baskets: int, expected: int) -> None:
    assert RulesConfig(min_support=support).min_count(baskets) == expected


def test_confidence_exactly_on_threshold_is_kept() -> None:
    # 0.3 * 10 == 3.0000000000000004 in floats; the exact test must keep 3/10.
    assert RulesConfig(min_confidence=0.3).confidence_ok(3, 10)
    assert RulesConfig(min_confidence=0.7).confidence_ok(7, 10)
    assert not RulesConfig(min_confidence=0.7).confidence_ok(69, 100)


def test_lift_exactly_on_threshold_is_kept() -> None:
    # lift = 3 * 10 / (5 * 6) = 1 exactly
    assert RulesConfig(min_lift=1.0).lift_ok(3, 5, 6, 10)
    assert not RulesConfig(min_lift=1.1).lift_ok(3, 5, 6, 10)
    assert RulesConfig(min_lift=0.0).lift_ok(1, 100, 100, 1)


def test_keeps_checks_all_three() -> None:
    config = RulesConfig(min_support=0.2, min_confidence=0.5, min_lift=1.0)
    assert config.keeps(2, 4, 5, 10)
    assert not config.keeps(1, 2, 5, 10)    # support 0.1
    assert not config.keeps(2, 5, 2, 10)    # confidence 0.4
    assert not config.keeps(2, 4, 9, 10)    # lift 0.55
