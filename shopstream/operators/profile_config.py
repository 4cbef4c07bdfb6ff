"""The configuration of the Customer 360 operators, with every cap they keep.

Examples
--------
>>> ProfilesConfig().max_open_sessions
16
>>> ProfilesConfig(slide_ms=0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: ProfilesConfig.slide_ms must be > 0, got 0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopstream.errors import ConfigError
from shopstream.profiles.actions import ActionsConfig, ChurnConfig
from shopstream.profiles.behaviour import BehaviourConfig
from shopstream.profiles.engagement import EngagementConfig
from shopstream.profiles.preferences import PreferencesConfig
from shopstream.profiles.segments import RfmConfig

__all__ = ["ProfilesConfig"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class ProfilesConfig:
    """Windows, caps and the models of the profile operators.

    Parameters
    ----------
    session_gap_ms
        A session ends after this much event time without an event (30 minutes).
    slide_ms
        Profiles are emitted at the end of each slot of this length in which the shopper
        did something (and when sessions end): at most one profile per shopper per slot.
    max_held_events
        Anonymous events held per session until a user id shows (identity resolution).
    max_open_sessions
        Open sessions tracked per shopper; one more closes the least recent.
    max_pending_events
        Events of one shopper waiting for the end of their slot; beyond it the slot is
        applied at once (order within the slot is then arrival order).
    max_cart_lines
        Distinct products kept in a shopper's cart.
    max_order_ids
        Recent order ids remembered per shopper, so one order seen twice (web checkout
        and shop database CDC) counts once.
    max_last_order_categories
        Categories of the last order kept for cross-selling.
    top_preferences
        Values shown per preference dimension.
    user_idle_ms, anonymous_idle_ms
        A profile's state is dropped after this much event time without events (known
        users: 365 days; anonymous sessions: 1 day); the store keeps the last profile.
    segment_groups
        Key groups of the segment counts (partial counts summed by the API).
    max_model_versions
        Versions of the ``profile-models`` broadcast kept (refitted lifetime-value models
        and RFM thresholds, :mod:`shopstream.operators.profile_models`); the newest ones
        by the event time they hold from.
    max_trend_categories, max_trend_versions
        The category trend readings kept for the ``rising in a favourite category``
        action (:mod:`shopstream.profiles.trend_board`): readings per category, and
        categories (beyond it the one with the oldest newest reading goes).
    trend_max_age_ms
        A category reading older than this (event time) is not used: the trend stages
        read an active category at least daily (2 days).
    churn, rfm
        The static lifetime-value models and RFM thresholds: in force until a version of
        ``profile-models`` holds (and for the parts a version leaves ``None``).
    """

    session_gap_ms: int = 30 * 60_000
    slide_ms: int = 60_000
    max_held_events: int = 200
    max_open_sessions: int = 16
    max_pending_events: int = 1_000
    max_cart_lines: int = 100
    max_order_ids: int = 32
    max_last_order_categories: int = 5
    top_preferences: int = 5
    user_idle_ms: int = 365 * _DAY_MS
    anonymous_idle_ms: int = _DAY_MS
    segment_groups: int = 16
    max_model_versions: int = 4
    max_trend_categories: int = 1_024
    max_trend_versions: int = 2
    trend_max_age_ms: int = 2 * _DAY_MS
    preferences: PreferencesConfig = field(default_factory=PreferencesConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    engagement: EngagementConfig = field(default_factory=EngagementConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    actions: ActionsConfig = field(default_factory=ActionsConfig)
    rfm: RfmConfig = field(default_factory=RfmConfig)

    def __post_init__(self) -> None:
        for name in ("session_gap_ms", "slide_ms", "max_held_events", "max_open_sessions",
                     "max_pending_events", "max_cart_lines", "max_order_ids",
                     "max_last_order_categories", "top_preferences", "user_idle_ms",
                     "anonymous_idle_ms", "segment_groups", "max_model_versions",
                     "max_trend_categories", "max_trend_versions", "trend_max_age_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                msg = f"ProfilesConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)
