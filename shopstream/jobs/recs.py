"""Recommendations computed on a clock: the hot list of active shoppers and the daily batch.

Both rank with the pipeline's own :class:`~shopstream.recommend.blend.Blender` over the
lists of the newest trained model (:mod:`shopstream.jobs.models`). The context (what the
session's products are to a live request, never recommended back) is what the shopper
touched in the last hour when the lake has it (the hot job), else their strongest past
products, which are also their history (what ``PERSONAL`` recommends from). A shopper
the model does not know gets the fallback chain (trending, popular). The answer goes to
the store under ``recs:user:{userId}`` (:func:`shopstream.stores.keys.user_recs_key`,
served by ``GET /users/{id}/recommendations``) with the model version, the job, the time and
each product's score and source.

- :func:`active_shoppers`: the shoppers whose one-hour (or five-minute) rolling counts in
  the store (product views, category views, cart adds, written by the live feature
  operators) add up to more than 0, most active first, at most ``limit``; a scan of
  those keys only;
- :func:`recommend_shoppers`: any shoppers, written ``batch_size`` at a time (one store
  batch per batch: at least 1,000 shoppers a write).

Cost: per shopper one blend (bounded by the serving caps), so a batch is linear in the
shoppers it serves; memory is one batch of entries.

Examples
--------
>>> import tempfile
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.jobs.history import History
>>> from shopstream.jobs.models import train
>>> from shopstream.jobs.config import RetrainConfig
>>> from shopstream.stores.embedded import SqliteStore
>>> views = [ShopperEvent(EventType.VIEW_PRODUCT, t, s, user_id=u, product_id=p)
...          for t, (s, u, p) in enumerate([("s1", "u1", "tea"), ("s1", "u1", "cake"),
...                                         ("s2", "u2", "tea"), ("s2", "u2", "milk")])]
>>> model = train(History(views, "replay"), RetrainConfig(), version=1, now_ms=10)
>>> store = SqliteStore(tempfile.mkdtemp() + "/f.db")
>>> recommend_shoppers(store, model, ["u1"], now_ms=10, job="daily", ttl_s=60,
...                    batch_size=1000)
{'shoppers': 1, 'batches': 1, 'empty': 0}
>>> store.get(user_recs_key("u1"))["products"]
['milk']
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shopstream.jobs.errors import JobError
from shopstream.jobs.models import TrainedModel
from shopstream.recommend.base import RecContext
from shopstream.recommend.blend import Blender
from shopstream.recommend.published import PublishedLists
from shopstream.recommend.strategies import list_strategies
from shopstream.recommend.suite import RecommendConfig
from shopstream.stores.base import FeatureStore, StoreEntry, StoreError
from shopstream.stores.keys import user_feature_scan, user_recs_key

__all__ = ["ACTIVITY_FEATURES", "active_shoppers", "recommend_shoppers", "scan_user_feature",
           "user_recs_key"]

#: The rolling counts that make a shopper active (with a window suffix, see the catalog).
ACTIVITY_FEATURES = ("product_view_count", "category_view_count", "cart_add_count")


def active_shoppers(store: FeatureStore, limit: int, window: str = "1hr"
                    ) -> list[tuple[str, float]]:
    """``(userId, activity)`` of the shoppers active in the rolling ``window``, most
    active first (ties by id), at most ``limit``; see the module documentation."""
    activity: dict[str, float] = {}
    for feature in ACTIVITY_FEATURES:
        for user, value in scan_user_feature(store, f"{feature}_{window}"):
            if isinstance(value, int | float) and value > 0:
                activity[user] = activity.get(user, 0.0) + float(value)
    ranked = sorted(activity.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


def scan_user_feature(store: FeatureStore, feature: str) -> Iterable[tuple[str, Any]]:
    """``(userId, value)`` of every live ``user:*:{feature}`` entry
    (:meth:`~shopstream.stores.base.FeatureStore.scan_keys`, then reads of 1,000 keys)."""
    prefix, suffix = user_feature_scan(feature)
    try:
        keys = store.scan_keys(prefix, suffix)
    except StoreError as exc:
        msg = f"hot-recommendations: cannot scan the store: {exc}"
        raise JobError(msg) from None
    for start in range(0, len(keys), 1_000):
        chunk = keys[start:start + 1_000]
        # Read through the store: values expired since the scan come back as None.
        for key, value in zip(chunk, store.get_many(chunk), strict=True):
            if value is not None:
                yield key[len(prefix):-len(suffix)], value


class _Ranker:
    """The blend over one model's lists."""

    def __init__(self, model: TrainedModel, config: RecommendConfig) -> None:
        lists = PublishedLists(config.published)
        lists.tables = model.lists
        self.blender = Blender(list_strategies(lists, config.serve), config.blend)
        self.model = model
        self.k = config.k
        self.items = config.serve.session_cap

    def rank(self, user: str, now_ms: int, recent: tuple[str, ...] = ()) -> dict[str, Any]:
        history = self.model.histories.get(user, ())
        items = recent[-self.items:] if recent else history[:self.items][::-1]
        context = RecContext(f"user:{user}", user, items, frozenset(), now_ms, history)
        ranked = self.blender.rank(context, self.k)
        return {"userId": user, "products": [r.product_id for r in ranked],
                "scores": [round(r.score, 6) for r in ranked],
                "sources": [r.source for r in ranked]}


def recommend_shoppers(store: FeatureStore, model: TrainedModel, users: Sequence[str],
                       now_ms: int, job: str, ttl_s: float, batch_size: int,
                       config: RecommendConfig | None = None,
                       recent: Mapping[str, tuple[str, ...]] | None = None
                       ) -> dict[str, int]:
    """Rank and store recommendations for ``users``, ``batch_size`` at a time; return
    ``{"shoppers", "batches", "empty"}`` (``empty``: no product could be named).
    ``recent`` (the products a shopper touched lately, oldest first) stands in for the
    shopper's strongest past products as the context."""
    recent = recent or {}
    ranker = _Ranker(model, config or RecommendConfig())
    at = max(now_ms, model.valid_from_ms)
    batches = empty = 0
    for start in range(0, len(users), batch_size):
        entries = []
        for user in users[start:start + batch_size]:
            value = ranker.rank(user, at, recent.get(user, ()))
            if not value["products"]:
                empty += 1
            value |= {"modelVersion": model.version, "job": job, "generatedAtMs": now_ms}
            entries.append(StoreEntry(user_recs_key(user), value, ttl_s))
        store.write_batch(entries)
        batches += 1
    return {"shoppers": len(users), "batches": batches, "empty": empty}
