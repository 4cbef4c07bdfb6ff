"""SimulationConfig validation: every bad value is refused with its field and value."""

from __future__ import annotations

import pytest

from shopstream.errors import ConfigError
from shopstream.sim import SimulationConfig


def test_defaults_are_valid_and_frozen() -> None:
    cfg = SimulationConfig()
    assert (cfg.sessions, cfg.days, cfg.seed, cfg.bad_rate) == (1000, 0.0, 42, 0.0)
    assert cfg.window_ms == 3_600_000 and cfg.pool_size == 333
    with pytest.raises(AttributeError):
        cfg.sessions = 5  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value"), [
    ("sessions", 0),
    ("sessions", 1.5),
    ("sessions", True),
    ("days", -1),
    ("days", float("nan")),
    ("days", 4000),
    ("seed", "42"),
    ("end_ms", -1),
    ("rate", 0),
    ("rate", -3.0),
    ("bad_rate", 1.0),
    ("bad_rate", -0.1),
    ("disorder_ms", -5),
    ("disorder_ms", 2.5),
    ("iso_timestamp_rate", 1.01),
    ("products", 10),
    ("shoppers", 0),
    ("currency", "usd"),
    ("currency", "EURO"),
])
def test_bad_values_name_the_field_and_value(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        SimulationConfig(**{field: value})  # type: ignore[arg-type]
    assert f"SimulationConfig.{field}" in str(info.value)
    assert repr(value) in str(info.value)


def test_live_mode_and_backfill_do_not_mix() -> None:
    with pytest.raises(ConfigError, match=r"rate .*days"):
        SimulationConfig(rate=10.0, days=1.0)
    assert SimulationConfig(rate=10.0).rate == 10.0
