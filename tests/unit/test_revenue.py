from __future__ import annotations

from typing import Any

import pytest
from orders import buy, on_orders

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.insights import RevenueStats
from shopstream.operators.revenue import RevenueConfig, RevenueStatsOperator
from shopstream.pipeline import GLOBAL_KEY, global_key

MIN = 60_000


def stats(events: list[Any], config: RevenueConfig | None = None) -> list[RevenueStats]:
    outs = on_orders(RevenueStatsOperator(config), global_key, events)
    assert all(o.stream == streams.REVENUE_STATS and o.key == GLOBAL_KEY for o in outs)
    return [o.record for o in outs]


def row(r: RevenueStats) -> tuple[Any, ...]:
    return (r.window_start, r.revenue, r.order_count, r.average_order_value,
            r.unique_customers, r.revenue_change, r.revenue_change_pct)


def test_windows_hold_revenue_orders_average_customers_and_change() -> None:
    out = stats([buy(0, "a", 10.0), buy(59_999, "b", 20.0), buy(56_000, "a", 30.0),
                 buy(MIN, "c", 15.0), buy(MIN + 1, "c", 15.0)])
    assert [row(r) for r in out] == [
        (0, 60.0, 3, 20.0, 2, None, None),
        (MIN, 30.0, 2, 15.0, 1, -30.0, -50.0),
    ]
    assert out[0].window_end == MIN


def test_empty_windows_between_orders_are_emitted_but_none_after_the_last() -> None:
    out = stats([buy(10, "a", 40.0), buy(3 * MIN + 5, "a", 10.0)])
    assert [row(r) for r in out] == [
        (0, 40.0, 1, 40.0, 1, None, None),
        (MIN, 0.0, 0, 0.0, 0, -40.0, -100.0),
        (2 * MIN, 0.0, 0, 0.0, 0, 0.0, None),
        (3 * MIN, 10.0, 1, 10.0, 1, 10.0, None),
    ]


def test_a_silence_longer_than_max_empty_windows_is_skipped() -> None:
    out = stats([buy(0, "a", 40.0), buy(10 * MIN, "a", 10.0)],
                RevenueConfig(max_empty_windows=8))
    assert [(r.window_start, r.revenue_change) for r in out] == [(0, None), (10 * MIN, -30.0)]
    assert len(stats([buy(0, "a", 40.0), buy(10 * MIN, "a", 10.0)],
                     RevenueConfig(max_empty_windows=9))) == 11


@pytest.mark.parametrize("window_ms", [5 * MIN, 60 * MIN])
def test_other_window_sizes(window_ms: int) -> None:
    out = stats([buy(0, "a", 1.0), buy(window_ms - 1, "b", 2.0), buy(window_ms, "a", 4.0)],
                RevenueConfig(window_ms=window_ms))
    assert [(r.window_start, r.window_end, r.revenue) for r in out] == [
        (0, window_ms, 3.0), (window_ms, 2 * window_ms, 4.0)]


def test_order_value_falls_back_to_items() -> None:
    [r] = stats([buy(0, items=[("a", 2.5, 4)])])
    assert r.revenue == 10.0


@pytest.mark.parametrize("kwargs", [{"window_ms": 0}, {"max_empty_windows": -1}])
def test_bad_config_names_the_field(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        RevenueConfig(**kwargs)
