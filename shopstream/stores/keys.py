"""The key layout of the store and the time each kind of value lives.

``user:{userId}:{feature}_{window}`` (e.g. ``user:u1:product_view_count_5min``; history
features end in ``_24hr``, context features have no window), ``session:{sessionId}:{feature}``,
``recs:session:{sessionId}`` for the latest recommendations of a session,
``recs:user:{userId}`` for a shopper's scheduled recommendations (written by the hot and
daily jobs of :mod:`shopstream.jobs`, served by ``GET /users/{id}/recommendations``), and
``rules:antecedent:{a|b|...}`` (antecedents sorted, joined with ``|``) for the current
rules of an antecedent, from the ``rules-by-antecedent`` stream; ``trending:products``
holds the latest ``trending-products`` list and ``related:product:{productId}`` the rules
whose only antecedent is that product (what is bought with it), best first.
``features:{user|session}:{id}:{group}`` holds one *group* of an entity's features as one
JSON object (``5min``, ``1hr``, ``24hr``, ``context`` for a shopper, ``session`` for a
session: the features that share a window and a time to live, see
:data:`FEATURE_GROUPS`), so the API reads a shopper's 23 features as 4 values, not 23;
the per-feature ``user:`` and ``session:`` keys are written too, for the readers of one
feature (jobs, the demo).
``profile:user:{userId}`` holds a shopper's latest Customer 360 profile (``profiles``),
``segments:group:{g}`` the segment counts of key group ``g`` and ``segments:groups`` how
many groups there are (``segment-counts``).

Examples
--------
>>> user_key("u1", "orders_count_24hr")
'user:u1:orders_count_24hr'
>>> user_recs_key("u1")
'recs:user:u1'
>>> features_key("user", "u1", "24hr"), [group for group, _ in FEATURE_GROUPS["user"]]
('features:user:u1:24hr', ['5min', '1hr', '24hr', 'context'])
>>> rules_key(["p9", "p2"])
'rules:antecedent:p2|p9'
>>> TtlConfig().for_feature("cart_value_1hr"), TtlConfig().for_feature("session_bounce")
(7200.0, 3600.0)
>>> TtlConfig(short_s=-1)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: TtlConfig.short_s must be > 0, got -1
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, Final

import msgspec

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.patterns import AntecedentRules
from shopstream.events.recommendations import TrendingProducts
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import SESSION, SESSION_FEATURES, USER, USER_FEATURES
from shopstream.stores.base import StoreEntry

__all__ = ["FEATURE_GROUPS", "SEGMENT_GROUPS_KEY", "TRENDING_KEY", "TtlConfig", "entries_for",
           "feature_group", "features_key", "profile_key", "recs_key", "related_key",
           "rules_key", "segment_group_key", "session_key", "trend_key", "user_feature_scan",
           "user_key", "user_recs_key"]

TRENDING_KEY: Final = "trending:products"
SEGMENT_GROUPS_KEY: Final = "segments:groups"


def profile_key(user_id: str) -> str:
    """Key of a shopper's latest profile."""
    return f"profile:user:{user_id}"


def segment_group_key(group: str) -> str:
    """Key of the segment counts of one key group."""
    return f"segments:group:{group}"


def user_key(user_id: str, feature: str) -> str:
    """Key of one feature of a shopper (``feature`` includes its window suffix)."""
    return f"user:{user_id}:{feature}"


def user_feature_scan(feature: str) -> tuple[str, str]:
    """``(prefix, suffix)`` of every shopper's :func:`user_key` of ``feature``, for
    :meth:`~shopstream.stores.base.FeatureStore.scan_keys`; a key's user id is
    ``key[len(prefix):-len(suffix)]``.

    >>> prefix, suffix = user_feature_scan("cart_add_count_1hr")
    >>> prefix, suffix, user_key("u:7", "cart_add_count_1hr")[len(prefix):-len(suffix)]
    ('user:', ':cart_add_count_1hr', 'u:7')
    """
    return user_key("", "")[:-1], ":" + feature


def session_key(session_id: str, feature: str) -> str:
    """Key of one feature of a session."""
    return f"session:{session_id}:{feature}"


def feature_group(feature: str) -> str:
    """The group of a feature: its window (``5min``, ``1hr``, ``24hr``), ``session`` for a
    session feature, else ``context`` (the same split as :meth:`TtlConfig.for_feature`).

    >>> [feature_group(n) for n in ("views_5min", "orders_count_24hr", "session_events",
    ...                             "device_type")]
    ['5min', '24hr', 'session', 'context']
    """
    for window in ("5min", "1hr", "24hr"):
        if feature.endswith("_" + window):
            return window
    return "session" if feature.startswith("session_") else "context"


def _groups(names: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    order = dict.fromkeys(feature_group(name) for name in names)
    return tuple((group, tuple(n for n in names if feature_group(n) == group))
                 for group in order)


#: ``entity -> ((group, its feature names in catalog order), ...)``, groups in catalog
#: order: a shopper's 23 features in 4 groups, a session's 5 in one.
FEATURE_GROUPS: Final = {USER: _groups(USER_FEATURES), SESSION: _groups(SESSION_FEATURES)}


def features_key(entity: str, entity_id: str, group: str) -> str:
    """Key of one group of an entity's features (``entity``: ``user`` or ``session``)."""
    return f"features:{entity}:{entity_id}:{group}"


def recs_key(session_id: str) -> str:
    """Key of the latest recommendations of a session."""
    return f"recs:session:{session_id}"


def user_recs_key(user_id: str) -> str:
    """Key of a shopper's scheduled recommendations (hot and daily jobs)."""
    return f"recs:user:{user_id}"


def related_key(product_id: str) -> str:
    """Key of the products related to a product."""
    return f"related:product:{product_id}"


def trend_key(entity: str, entity_id: str) -> str:
    """Key of the latest trend reading of a product or category (``product-trends``,
    ``category-trends``): ``trend:{entity}:{id}``."""
    return f"trend:{entity}:{entity_id}"


def rules_key(antecedents: Iterable[str]) -> str:
    """Key of the rules whose antecedent is exactly ``antecedents`` (order ignored)."""
    return "rules:antecedent:" + "|".join(sorted(antecedents))


@dataclass(frozen=True)
class TtlConfig:
    """Seconds each kind of value lives in the store after it was last written.

    Each is twice what the value describes, so a value outlives its window only while
    no newer value replaced it (the operators emit a final value when a window empties).
    """

    short_s: float = 600.0          # ``_5min`` features
    long_s: float = 7_200.0         # ``_1hr`` features
    history_s: float = 172_800.0    # ``_24hr`` features
    session_s: float = 3_600.0      # session features (30-minute sessions)
    context_s: float = 604_800.0    # locations, devices...
    recommendations_s: float = 3_600.0
    profiles_s: float = 400 * 86_400.0  # a profile's state lives 365 days idle

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or value <= 0:
                msg = f"TtlConfig.{item.name} must be > 0, got {value!r}"
                raise ConfigError(msg)

    def for_feature(self, feature: str) -> float:
        """The time to live of ``feature``, from its name."""
        if feature.endswith("_5min"):
            return float(self.short_s)
        if feature.endswith("_1hr"):
            return float(self.long_s)
        if feature.endswith("_24hr"):
            return float(self.history_s)
        if feature.startswith("session_"):
            return float(self.session_s)
        return float(self.context_s)


@functools.lru_cache(maxsize=1024)
def _ttl(config: TtlConfig, feature: str) -> float:
    return config.for_feature(feature)


def entries_for(out: Output, ttl: TtlConfig) -> list[StoreEntry]:
    """What one pipeline output becomes in the store (nothing for other streams).

    Examples
    --------
    >>> rec = ShopperFeatures("session", "s1", 0, {"session_bounce": True})
    >>> one, group = entries_for(Output("shopper-features", "s1", rec), TtlConfig())
    >>> one
    StoreEntry(key='session:s1:session_bounce', value=True, ttl_s=3600.0)
    >>> group.key, group.value["session_bounce"], group.value["session_duration"]
    ('features:session:s1:session', True, None)
    """
    record = out.record
    if out.stream == streams.SHOPPER_FEATURES and isinstance(record, ShopperFeatures):
        entity = SESSION if record.entity == SESSION else USER
        prefix = entity + ":" + record.entity_id + ":"
        features = record.features
        return [*(StoreEntry(prefix + name, value, _ttl(ttl, name))
                  for name, value in features.items()),
                *_group_entries(entity, record.entity_id, features, ttl)]
    if out.stream == streams.RULES_BY_ANTECEDENT and isinstance(record, AntecedentRules):
        # No TTL: the operator re-sends an antecedent's list whenever it changes, an
        # empty one when its last rule expires.
        entries = [StoreEntry(rules_key(record.antecedents), msgspec.to_builtins(record.rules))]
        if len(record.antecedents) == 1:
            related = [{"productId": rule.consequent, "confidence": rule.confidence,
                        "lift": rule.lift, "support": rule.support}
                       for rule in record.rules]
            entries.append(StoreEntry(related_key(record.antecedents[0]), related))
        return entries
    if out.stream == streams.PRODUCT_RECOMMENDATIONS:
        return [StoreEntry(recs_key(out.key), msgspec.to_builtins(record),
                           float(ttl.recommendations_s))]
    if out.stream == streams.TRENDING_PRODUCTS and isinstance(record, TrendingProducts):
        # No TTL: the operator ends a quiet spell with an empty list.
        return [StoreEntry(TRENDING_KEY, msgspec.to_builtins(record))]
    if out.stream == streams.PROFILES:
        return [StoreEntry(profile_key(out.key), msgspec.to_builtins(record),
                           float(ttl.profiles_s))]
    if out.stream == streams.SEGMENT_COUNTS:
        # No TTL: a group re-sends its counts whenever they change.
        return [StoreEntry(segment_group_key(out.key), msgspec.to_builtins(record)),
                StoreEntry(SEGMENT_GROUPS_KEY, getattr(record, "groups", 1))]
    if out.stream in (streams.PRODUCT_TRENDS, streams.CATEGORY_TRENDS):
        # No TTL: a key's last reading (after quiet_days without activity) stays.
        return [StoreEntry(trend_key(record.entity, record.entity_id),
                           msgspec.to_builtins(record))]
    return []


def _group_entries(entity: str, entity_id: str, features: dict[str, Any], ttl: TtlConfig
                   ) -> list[StoreEntry]:
    """One entry per group ``features`` touches: the group's names in catalog order, each
    with its value here or ``null`` (an operator emits its groups whole: the rolling
    one the ``5min`` and ``1hr`` groups, the history one ``24hr``, the context one
    ``context``, the session one ``session``); names outside the catalog are left out."""
    index = _GROUP_INDEX[entity]
    touched = sorted({index[name] for name in features if name in index})
    groups = FEATURE_GROUPS[entity]
    entries = []
    for i in touched:
        group, names = groups[i]
        entries.append(StoreEntry(features_key(entity, entity_id, group),
                                  {name: features.get(name) for name in names},
                                  _ttl(ttl, names[0])))
    return entries


#: ``entity -> {feature name: index of its group in FEATURE_GROUPS[entity]}``.
_GROUP_INDEX: Final = {entity: {name: i for i, (_, names) in enumerate(groups)
                                for name in names}
                       for entity, groups in FEATURE_GROUPS.items()}
