"""The pure profile library: preferences, engagement, behavioural segments, actions."""

from __future__ import annotations

import itertools

import pytest

from shopstream.errors import ConfigError
from shopstream.profiles.actions import (
    ActionsConfig,
    ChurnConfig,
    lifetime,
    next_best_actions,
)
from shopstream.profiles.behaviour import BehaviourConfig, BehaviourStats, behaviour_segment
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.engagement import (
    EngagementConfig,
    SessionTotals,
    engagement_score,
    session_metrics,
)
from shopstream.profiles.gamma_gamma import GammaGammaParams
from shopstream.profiles.preferences import (
    Preferences,
    PreferencesConfig,
    add,
    price_band,
    top,
)

WEEK = 7 * 86_400_000
BG = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def test_preferences_do_not_depend_on_the_order_of_touches() -> None:
    config = PreferencesConfig(half_life_ms=10_000)
    touches = [("Books", 1.0, 0), ("Toys", 3.0, 4_000), ("Books", 5.0, 9_000),
               ("Garden", 1.0, 2_500)]
    results = []
    for order in itertools.permutations(touches):
        prefs = Preferences()
        for value, weight, ts in order:
            add(prefs, "category", value, weight, ts, config)
        results.append(top(prefs, "category"))
    assert all(r == results[0] for r in results)
    # By hand at t = 9 s: Books 1 * 0.5**0.9 + 5, Toys 3 * 0.5**0.5, Garden 0.5**0.65.
    books, toys, garden = 0.5 ** 0.9 + 5, 3 * 0.5 ** 0.5, 0.5 ** 0.65
    total = books + toys + garden
    assert results[0] == [("Books", round(books / total, 4)), ("Toys", round(toys / total, 4)),
                          ("Garden", round(garden / total, 4))]


def test_preferences_keep_at_most_max_entries_per_dimension() -> None:
    config = PreferencesConfig(max_entries=3)
    prefs = Preferences()
    for i in range(50):
        add(prefs, "category", f"c{i:02d}", 1.0 + i, i, config)
    assert len(prefs.weights["category"]) == 3
    assert [k for k, _ in top(prefs, "category")] == ["c49", "c48", "c47"]


def test_price_bands_are_upper_inclusive() -> None:
    config = PreferencesConfig()
    assert [price_band(p, config) for p in (0.0, 10.0, 10.01, 250.0, 250.5)] == [
        "0-10", "0-10", "10-25", "100-250", "250+"]


@pytest.mark.parametrize("options", [{"half_life_ms": 0}, {"max_entries": 0},
                                     {"price_bands": (10.0, 5.0)}, {"price_bands": ()}])
def test_preferences_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="PreferencesConfig"):
        PreferencesConfig(**options)  # type: ignore[arg-type]


def test_engagement_stays_within_zero_and_one() -> None:
    best = session_metrics(SessionTotals(sessions=3, duration_s=900.0, pages=90, bounces=0,
                                         purchase_sessions=3, purchase_duration_s=900.0))
    assert engagement_score(1e9, best, EngagementConfig()) == 1.0
    worst = session_metrics(SessionTotals(sessions=5, duration_s=0.0, pages=5, bounces=5))
    assert engagement_score(0.0, worst, EngagementConfig()) == 0.02   # 0.2 * 0.1 pages


def test_behaviour_rules_are_tried_in_the_documented_order() -> None:
    # Qualifies for every rule: loyal wins; without loyal, price sensitive; and so on.
    stats = BehaviourStats(orders=3, revenue=300.0, views=3, items=3, deal_items=3,
                           avg_session_s=900.0, avg_purchase_session_s=100.0)
    config = BehaviourConfig()
    assert behaviour_segment(stats, config) == "loyal_customer"
    assert behaviour_segment(stats, BehaviourConfig(loyal_orders=4)) == "price_sensitive"


@pytest.mark.parametrize("options", [{"loyal_orders": 0}, {"deal_share": 0.0},
                                     {"impulse_max_s": -1.0}])
def test_behaviour_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="BehaviourConfig"):
        BehaviourConfig(**options)  # type: ignore[arg-type]


def test_lifetime_uses_the_fitted_models_when_configured() -> None:
    # The paper's worked customer: x = 2 repeat days, t_x = 30.43 weeks, T = 38.86 weeks.
    first = 0
    last = round(30.43 * WEEK)
    now = round(38.86 * WEEK)
    life = lifetime(3, first, last, now, 30.0, ChurnConfig(bgnbd=BG, gamma_gamma=GG))
    assert life is not None
    assert (life.model, life.p_alive, life.churn_risk) == ("bgnbd", 0.7266, 0.2734)
    assert life.clv is not None and life.clv > 0
    assert lifetime(0, 0, 0, now, 0.0, ChurnConfig(bgnbd=BG)) is None


def test_slipping_customer_gets_a_win_back_offer_not_a_cross_sell() -> None:
    acts = next_best_actions("loyal_customer", 0, 0.0, 0.2, 5, ("Toys",), ActionsConfig())
    assert [a.action for a in acts] == ["win-back offer"]
    assert "0.20 < 0.50" in acts[0].reason


def test_actions_are_capped() -> None:
    acts = next_best_actions("buyer", 2, 10.0, 0.9, 2, ("Toys",),
                             ActionsConfig(max_actions=1))
    assert [a.action for a in acts] == ["complete the cart with offer"]


@pytest.mark.parametrize("options", [{"default_half_life_days": 0.0}, {"clv_months": 0},
                                     {"monthly_discount_rate": -1.0}])
def test_churn_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="ChurnConfig"):
        ChurnConfig(**options)  # type: ignore[arg-type]
