"""The four jobs of a shop, over one store: what each does when its time comes.

- ``hot-recommendations`` (every 15 minutes): fresh lists for the shoppers active in the
  last hour, most active first (:func:`~shopstream.jobs.recs.active_shoppers`), from what
  they touched in that hour when the lake holds it;
- ``daily-recommendations`` (02:30): lists for every shopper the newest model knows and
  for those seen since its retrain in the store or the lake (most recent first, bounded:
  :mod:`shopstream.jobs.new_shoppers`), 1,000 or more a batch;
- ``weekly-retrain`` (Sunday 03:00): every model refitted from the history (the lake when
  it has events, else a replay of the event file), saved as a new version and published
  to the hosted pipeline (:mod:`shopstream.jobs.publish`): the recommendation lists, and
  the lifetime-value models and RFM thresholds to the profiles (when the lifetime-value
  models could not be refitted, the last fitted ones go with the new thresholds, and the
  run's ``profile_ltv`` says so);
- ``retention-cleanup`` (04:00): expired store entries, lake partitions past retention,
  old checkpoints (:mod:`shopstream.jobs.retention`).

The recommendation jobs read the newest saved model; when none was trained yet they run
the retrain first (and fail, with the reason in the run log, when there is no history).
Each job returns its counts (what the run log keeps).

Examples
--------
>>> import tempfile
>>> from shopstream.stores.embedded import SqliteStore
>>> store = SqliteStore(tempfile.mkdtemp() + "/f.db")
>>> sorted(ShopJobs(store, JobsConfig()).functions())
['daily-recommendations', 'hot-recommendations', 'retention-cleanup', 'weekly-retrain']
>>> ShopJobs(store, JobsConfig()).functions()["weekly-retrain"](0)
Traceback (most recent call last):
...
shopstream.jobs.errors.JobSetupError: weekly-retrain: no history to learn from: give a lake \
with events (`lake` in the jobs configuration, as written by `shopstream run --lake`) or a \
JSONL event file (`events`)
>>> store.close()
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shopstream.jobs.config import DAILY, HOT, RETENTION, RETRAIN, JobsConfig
from shopstream.jobs.errors import JobError
from shopstream.jobs.history import read_history, recent_products
from shopstream.jobs.models import ModelRepository, TrainedModel, models_dir, train
from shopstream.jobs.new_shoppers import shoppers_since
from shopstream.jobs.publish import ModelPublisher
from shopstream.jobs.recs import active_shoppers, recommend_shoppers
from shopstream.jobs.retention import drop_old_partitions, prune_checkpoints, purge_expired
from shopstream.jobs.runner import JobFunction
from shopstream.recommend.suite import RecommendConfig
from shopstream.stores.base import FeatureStore

__all__ = ["ShopJobs"]

log = logging.getLogger("shopstream.jobs")


class ShopJobs:
    """The jobs over ``store``, configured by ``config``; ``publisher`` (optional) hands
    retrained models to a hosted pipeline."""

    def __init__(self, store: FeatureStore, config: JobsConfig,
                 publisher: ModelPublisher | None = None,
                 recommend: RecommendConfig | None = None) -> None:
        self.store = store
        self.config = config
        self.publisher = publisher
        self.recommend = recommend or RecommendConfig()
        self._models: ModelRepository | None = None
        self._train_lock = threading.Lock()

    @property
    def models(self) -> ModelRepository:
        """The saved model versions (a :class:`~shopstream.jobs.errors.JobSetupError`,
        recorded as the run's failure, when a Redis store has no ``models`` directory)."""
        if self._models is None:
            self._models = ModelRepository(models_dir(self.store.url, self.config.models),
                                           self.config.retrain.keep_versions)
        return self._models

    def functions(self) -> dict[str, JobFunction]:
        """Each job by name."""
        return {HOT: self.hot, DAILY: self.daily, RETRAIN: self.retrain,
                RETENTION: self.retention}

    # -- models ---------------------------------------------------------------------------
    def _train(self, now_ms: int) -> tuple[TrainedModel, dict[str, int]]:
        cfg = self.config
        with self._train_lock:
            history = read_history(cfg.lake, cfg.events, cfg.retrain.history_days)
            model = train(history, cfg.retrain, self.models.next_version(), now_ms,
                          self.recommend)
            if not model.ltv.get("fitted"):
                previous = self.models.last_ltv()
                if previous is not None:
                    model.ltv["previous"] = previous
            self.models.save(model)
        published = self.publisher.publish(model) if self.publisher is not None else 0
        counts = {"version": model.version, "events": model.events,
                  "rejected_lines": history.rejected, "shoppers": len(model.histories),
                  "lists": sum(len(t) for t in model.lists.values()), "rules": model.rules,
                  "ltv_fitted": int(bool(model.ltv.get("fitted"))),
                  "published_lists": published, "from_lake": int(history.source == "lake"),
                  **_profile_counts(model, self.publisher)}
        return model, counts

    def publish_latest(self) -> int:
        """Hand the newest saved version's profile part (lifetime-value models and RFM
        thresholds) to the hosted pipeline, as ``serve`` does when it starts, so a
        restarted service does not fall back to the static models until the next
        retrain; return its version (0: no publisher or no saved version). The lists
        are not published: the live stages relearn them."""
        if self.publisher is None or not self.publisher.profile_stages:
            return 0
        try:
            model = self.models.latest()
        except JobError as exc:  # no models directory, an unreadable version
            log.warning("no saved model published at start: %s", exc)
            return 0
        if model is None:
            return 0
        self.publisher.publish(model, lists=False)
        return model.version

    def _model(self, now_ms: int) -> tuple[TrainedModel, int]:
        model = self.models.latest()
        if model is not None:
            return model, 0
        return self._train(now_ms)[0], 1

    # -- the jobs -------------------------------------------------------------------------
    def retrain(self, now_ms: int) -> dict[str, Any]:
        """Refit every model, save it as a new version, publish it."""
        return self._train(now_ms)[1]

    def hot(self, now_ms: int) -> dict[str, Any]:
        """Fresh lists for the active shoppers, most active first."""
        model, trained = self._model(now_ms)
        hot = self.config.hot
        active = active_shoppers(self.store, hot.max_shoppers, hot.window)
        users = [user for user, _ in active]
        window_ms = 3_600_000 if hot.window == "1hr" else 300_000
        recent = recent_products(self.config.lake, set(users), now_ms - window_ms,
                                 self.recommend.serve.session_cap)
        counts = recommend_shoppers(self.store, model, users, now_ms, "hot", hot.ttl_s,
                                    self.config.batch.batch_size, self.recommend, recent)
        return counts | {"active": len(active), "with_recent": len(recent),
                         "known": sum(1 for u in users if u in model.histories),
                         "model_version": model.version, "trained_first": trained}

    def daily(self, now_ms: int) -> dict[str, Any]:
        """Lists for every shopper the model knows, then for those seen since its
        retrain (most recent first, at most ``max_new_shoppers``), in batches."""
        model, trained = self._model(now_ms)
        batch = self.config.batch
        new = shoppers_since(self.store, self.config.lake, model.histories,
                             model.valid_from_ms, now_ms, batch.max_new_shoppers)
        recent = recent_products(self.config.lake, set(new.users), model.valid_from_ms,
                                 self.recommend.serve.session_cap)
        users = sorted(model.histories) + new.users
        counts = recommend_shoppers(self.store, model, users, now_ms, "daily", batch.ttl_s,
                                    batch.batch_size, self.recommend, recent)
        return counts | {"known": len(model.histories), "new": len(new.users),
                         "new_from_store": new.from_store, "new_from_lake": new.from_lake,
                         "with_recent": len(recent), "model_version": model.version,
                         "trained_first": trained}

    def retention(self, now_ms: int) -> dict[str, Any]:
        """Expired store entries, old lake partitions, old checkpoints."""
        cfg = self.config
        now_s = now_ms / 1000
        counts: dict[str, Any] = dict(purge_expired(self.store, now_s))
        if cfg.lake:
            counts |= drop_old_partitions(cfg.lake, cfg.retention, now_ms)
        counts |= prune_checkpoints(cfg.checkpoint_dirs, cfg.cleanup.keep_checkpoints, now_s)
        return counts


def _profile_counts(model: TrainedModel, publisher: ModelPublisher | None) -> dict[str, Any]:
    """What the run record says of the profile part: whether it was published, and
    which lifetime-value parameters it carries and why."""
    _, bgnbd, _, fitted_by = model.profile_parts()
    if model.ltv.get("fitted"):
        ltv = "fitted"
    elif bgnbd is not None:
        ltv = f"previous (version {fitted_by}): not refitted, {model.ltv.get('reason')}"
    else:
        ltv = f"static configuration: not refitted, {model.ltv.get('reason')}"
    targets = len(publisher.profile_stages) if publisher is not None else 0
    return {"published_profile_model": int(targets > 0), "profile_ltv": ltv}

