"""Feature operators: configuration, window arithmetic, and edge cases by hand."""

from __future__ import annotations

import pytest
from helpers import ev

from shopstream.errors import ConfigError
from shopstream.operators.context_features import ContextFeatures
from shopstream.operators.feature_catalog import USER_FEATURES, FeaturesConfig, slot_end
from shopstream.operators.history_features import HistoryFeatures, order_value
from shopstream.operators.rolling_features import RollingFeatures, window_values
from shopstream.operators.session_features import SessionFeatures
from shopstream.pipeline import PipelineConfig, by_session, by_user, default_topology
from shopstream.runners.embedded.harness import run_operator


@pytest.mark.parametrize("field", ["slide_ms", "session_gap_ms", "context_idle_ms",
                                   "max_context_values"])
@pytest.mark.parametrize("bad", [0, -5])
def test_config_errors_name_the_field_and_value(field: str, bad: int) -> None:
    with pytest.raises(ConfigError, match=f"FeaturesConfig.{field} must be > 0, got {bad}"):
        FeaturesConfig(**{field: bad})


def test_slots_end_on_multiples_of_the_slide() -> None:
    assert [slot_end(t, 30_000) for t in (1, 29_999, 30_000, 30_001)] == [
        30_000, 30_000, 30_000, 60_000]


def test_catalog_names_carry_their_window_suffix() -> None:
    assert "product_view_count_5min" in USER_FEATURES
    assert "price_range_viewed_1hr" in USER_FEATURES
    assert {"orders_count_24hr", "top_category_24hr", "locations", "region_changes"} <= set(
        USER_FEATURES)
    assert len(set(USER_FEATURES)) == len(USER_FEATURES) == 23


def test_cart_value_follows_adds_and_removes_within_the_window() -> None:
    events = [
        (1, 2, "a", 10.0, 3),     # 3 x a at 10
        (2, 2, "b", 4.0, None),   # 1 x b at 4
        (3, 3, "a", None, 1),     # one a out: 2 x 10
        (4, 3, "b", None, None),  # b out entirely
        (5, 3, "c", 7.0, 1),      # c was never added here: ignored
        (6, 2, None, 5.0, 1),     # an add without product counts but has no value
    ]
    views, browses, adds, removes, value, avg, spread = window_values(events, 0)
    assert (views, browses, adds, removes, value, avg, spread) == (0, 0, 3, 3, 20.0, None,
                                                                   None)
    assert window_values(events, 2)[4] == 0.0   # the adds are outside this window


def test_order_value_prefers_cart_total_then_items_then_price() -> None:
    assert order_value(ev("PURCHASE", 0, cart_total=12.0, price=1.0)) == 12.0
    assert order_value(ev("PURCHASE", 0, quantity=2, price=1.5)) == 3.0
    assert order_value(ev("PURCHASE", 0)) == 0.0


def test_events_without_features_leave_no_state_and_emit_nothing() -> None:
    searches = [ev("SEARCH", 1_000, user_id="u"), ev("PAGE_VIEW", 2_000, user_id="u")]
    assert run_operator(RollingFeatures(), searches, key_by=by_user) == []
    assert run_operator(HistoryFeatures(), searches, key_by=by_user) == []
    assert run_operator(ContextFeatures(), searches, key_by=by_user) == []


def test_a_session_id_reused_after_the_gap_starts_a_new_session() -> None:
    gap = FeaturesConfig().session_gap_ms
    events = [ev("PAGE_VIEW", 0), ev("PAGE_VIEW", 10_000),
              ev("PAGE_VIEW", 10_000 + gap + 1)]
    outs = run_operator(SessionFeatures(), events, key_by=by_session)
    assert [(o.record.computed_at, o.record.features["session_duration"],
             o.record.features["session_page_count"]) for o in outs] == [
        (0, 0.0, 1), (30_000, 10.0, 2), (slot_end(10_000 + gap + 1, 30_000), 0.0, 1)]


def test_context_remembers_at_most_the_configured_number_of_values() -> None:
    events = [ev("PAGE_VIEW", i, user_id="u", device=f"d{i}") for i in range(4)]
    outs = run_operator(ContextFeatures(FeaturesConfig(max_context_values=2)), events,
                        key_by=by_user)
    assert outs[-1].record.features["device_types"] == ["d2", "d3"]


def test_the_default_pipeline_runs_features_only_when_asked() -> None:
    assert "shopper-features" not in default_topology().sink_streams
    with_features = default_topology(PipelineConfig(features=FeaturesConfig()))
    assert "shopper-features" in with_features.sink_streams
    assert with_features.stage_names()[-4:] == (
        "rolling-features", "session-features", "history-features", "context-features")
