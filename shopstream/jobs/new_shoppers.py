"""Shoppers seen since the last retrain: who the daily batch serves beside the model's.

The newest model knows the shoppers of its history (up to its ``valid_from_ms``); anyone
who came after would get no scheduled list until the next retrain. :func:`shoppers_since`
finds them in two places and ranks them most recent first:

- the **store**: a shopper with a rolling count above 0 in the live pipeline's store was
  seen at most that window ago: within five minutes (``*_5min`` activity counts), an hour
  (``*_1hr``) or a day (``orders_count_24hr``); each is dated ``now_ms`` minus its
  window, so the store ranks at the window's grain;
- the **lake** (``shopstream run --lake``): the events at or after ``since_ms``, each
  shopper dated by their last event.

A shopper's date is the latest of the two; the model's own shoppers (``known``) are left
out; at most ``limit`` are returned, newest first (ties by id).

Cost: the store part is a scan of the activity keys of the windows (the shoppers active
in the last day, not all shoppers ever); the lake part is one DuckDB aggregation of the
events since ``since_ms`` (at most the time since the retrain), read back newest first
and stopped after ``limit`` new shoppers; memory is ``limit`` ids plus the store's active
shoppers.

Examples
--------
>>> import tempfile
>>> from shopstream.stores.base import StoreEntry
>>> from shopstream.stores.embedded import SqliteStore
>>> store = SqliteStore(tempfile.mkdtemp() + "/f.db")
>>> store.write_batch([StoreEntry("user:old:product_view_count_5min", 1),
...                    StoreEntry("user:hour:cart_add_count_1hr", 2),
...                    StoreEntry("user:now:product_view_count_5min", 3),
...                    StoreEntry("user:buyer:orders_count_24hr", 1),
...                    StoreEntry("user:idle:product_view_count_5min", 0)])
>>> found = shoppers_since(store, None, known={"old"}, since_ms=0, now_ms=10**13,
...                        limit=10)
>>> found.users, found.from_store, found.from_lake
(['now', 'hour', 'buyer'], 3, 0)
>>> shoppers_since(store, None, known=set(), since_ms=0, now_ms=10**13, limit=2).users
['now', 'old']
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from shopstream.jobs.errors import JobError
from shopstream.jobs.history import may_hold_events
from shopstream.jobs.recs import ACTIVITY_FEATURES, scan_user_feature
from shopstream.redaction import redact
from shopstream.stores.base import FeatureStore

__all__ = ["NewShoppers", "shoppers_since"]

#: Store features that mark a shopper seen within their window, with its length (ms).
_SEEN_WITHIN: tuple[tuple[str, int], ...] = (
    *((f"{name}_5min", 300_000) for name in ACTIVITY_FEATURES),
    *((f"{name}_1hr", 3_600_000) for name in ACTIVITY_FEATURES),
    ("orders_count_24hr", 86_400_000),
)


@dataclass(frozen=True)
class NewShoppers:
    """The shoppers found, newest first, and how many each source named."""

    users: list[str]
    from_store: int
    from_lake: int


def shoppers_since(store: FeatureStore, lake: str | None, known: Collection[str],
                   since_ms: int, now_ms: int, limit: int) -> NewShoppers:
    """Shoppers not in ``known`` seen since ``since_ms`` (see the module documentation)."""
    seen: dict[str, int] = {}
    for feature, window_ms in _SEEN_WITHIN:
        for user, value in scan_user_feature(store, feature):
            if user in known or not isinstance(value, int | float) or value <= 0:
                continue
            at = now_ms - window_ms
            if at > seen.get(user, -1):
                seen[user] = at
    from_store = len(seen)
    lake_seen = _lake_last_seen(lake, known, since_ms, limit)
    for user, at in lake_seen.items():
        if at > seen.get(user, -1):
            seen[user] = at
    ranked = sorted(seen.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return NewShoppers([user for user, _ in ranked], from_store, len(lake_seen))


def _lake_last_seen(lake: str | None, known: Collection[str], since_ms: int,
                    limit: int) -> dict[str, int]:
    """The last event time of up to ``limit`` shoppers of the lake not in ``known``, seen
    at or after ``since_ms``, the newest."""
    if not lake or not may_hold_events(lake):
        return {}
    import duckdb

    from shopstream.lake.errors import LakeError
    from shopstream.lake.query import connect

    found: dict[str, int] = {}
    try:
        con = connect(lake)
        try:
            result = con.execute(
                "SELECT user_id, max(timestamp_ms) AS seen FROM events "
                "WHERE timestamp_ms >= ? AND user_id IS NOT NULL GROUP BY user_id "
                "ORDER BY seen DESC, user_id", (since_ms,))
            while len(found) < limit and (rows := result.fetchmany(10_000)):
                for user, seen in rows:
                    if user not in known:
                        found[str(user)] = int(seen)
                        if len(found) >= limit:
                            break
        finally:
            con.close()
    except (duckdb.Error, LakeError) as exc:
        msg = redact(f"daily-recommendations: cannot read the lake {lake!r}: {exc}")
        raise JobError(msg) from None
    return found
