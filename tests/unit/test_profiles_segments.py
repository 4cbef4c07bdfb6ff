"""RFM segments: one case per rule and one per threshold boundary; the summary."""

from __future__ import annotations

from datetime import date

import pytest

from shopstream.errors import ConfigError
from shopstream.profiles import SEGMENTS, ProfileError, RfmConfig, rfm_segment, summarise

CONFIG = RfmConfig(recent_days=30, lapsed_days=90, frequent_orders=5, high_value=500.0)


@pytest.mark.parametrize(("days", "orders", "money", "segment"), [
    (1, 5, 500.0, "champion"),        # every threshold met exactly
    (31, 5, 500.0, "loyal"),          # one day past recent
    (30, 5, 499.99, "loyal"),         # one cent short of valuable
    (90, 9, 100.0, "loyal"),          # lapsed starts after 90 days
    (91, 9, 100.0, "at_risk"),
    (91, 1, 500.0, "at_risk"),        # lapsed and valuable
    (91, 4, 499.0, "hibernating"),
    (30, 1, 20.0, "new"),
    (0, 2, 20.0, "promising"),
    (30, 4, 800.0, "promising"),      # valuable but not frequent
    (31, 1, 20.0, "needs_attention"),
    (90, 4, 20.0, "needs_attention"),
])
def test_rules_and_boundaries(days: float, orders: int, money: float, segment: str) -> None:
    assert rfm_segment(days, orders, money, CONFIG) == segment


def test_every_segment_is_reachable() -> None:
    seen = {rfm_segment(d, n, m, CONFIG) for d in (0, 30, 60, 120)
            for n in (1, 2, 5) for m in (10.0, 600.0)}
    assert seen == set(SEGMENTS)


def test_bad_thresholds_name_the_fields() -> None:
    with pytest.raises(ConfigError, match="recent_days=90"):
        RfmConfig(recent_days=90, lapsed_days=30)
    with pytest.raises(ConfigError, match="frequent_orders=1"):
        RfmConfig(frequent_orders=1)
    with pytest.raises(ProfileError, match="orders=0"):
        rfm_segment(1, 0, 0.0, CONFIG)


def test_summary_ignores_late_customers_and_caps_the_holdout() -> None:
    log = [("a", date(1997, 1, 1), 10.0), ("a", date(1997, 3, 1), 4.0),
           ("a", date(1997, 6, 1), 4.0), ("late", date(1997, 3, 1), 1.0)]
    (only,) = summarise(log, calibration_end=date(1997, 1, 31),
                        holdout_end=date(1997, 3, 31), period_days=1.0)
    assert (only.customer_id, only.frequency, only.age, only.holdout_frequency) == \
        ("a", 0, 30.0, 1)
