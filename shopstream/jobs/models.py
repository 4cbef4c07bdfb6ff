"""Trained models, versioned on disk: what the retrain writes and the recommendation jobs
read.

:func:`train` learns from a :class:`~shopstream.jobs.history.History`:

- the recommendation lists, by the pipeline's own learning and publishing code
  (:class:`~shopstream.recommend.training.ModelTrainer`: next items, co-occurrence, bought
  together, popular, trending, fused ``BLENDED`` lists, and rules mined from the baskets),
  plus each shopper's strongest products (their history, as a request carries it);
- the lifetime-value model: BG/NBD and Gamma-Gamma parameters fitted on weekly
  ``(x, t_x, T, m_x)`` summaries of the purchases (skipped, with the reason in the
  manifest, when fewer than ``min_ltv_customers`` customers bought twice, or when the
  fit is degenerate: P(alive) or the CLV of a repeat customer not a number);
- the RFM segments' thresholds, refitted from the customers' distribution: ``recent_days``
  and ``lapsed_days`` the 25th and 75th percentiles of the days since a customer's last
  order, ``frequent_orders`` and ``high_value`` the 80th percentiles of orders and spend.

:meth:`TrainedModel.profile_parts` is what the Customer 360 operator receives of a
version (:mod:`shopstream.jobs.publish`): the thresholds and the lifetime-value
parameters, fitted or, when this retrain could not fit them, carried over from the
newest earlier version that had them (``ltv["previous"]``, set by the retrain job from
:meth:`ModelRepository.last_ltv`).

:class:`ModelRepository` keeps versions as ``DIR/v000001/`` folders (``model.pkl`` and a
readable ``manifest.json``), written under a temporary name and renamed into place, so a
reader sees whole versions only; the newest ``keep`` versions are kept.
:meth:`ModelRepository.forget` rewrites them without one shopper (for an erasure).

Examples
--------
>>> import tempfile
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.jobs.history import History
>>> views = [ShopperEvent(EventType.VIEW_PRODUCT, t, f"s{t // 2}", user_id="u1",
...                       product_id=p) for t, p in enumerate(["tea", "cake", "tea", "milk"])]
>>> model = train(History(views, "replay"), RetrainConfig(), version=1, now_ms=10)
>>> model.histories["u1"], model.valid_from_ms
(('tea', 'milk', 'cake'), 4)
>>> repo = ModelRepository(tempfile.mkdtemp())
>>> repo.save(model).name
'v000001'
>>> repo.latest().lists["NEXT_ITEM"]["tea"][-1][1]
(('cake', 'milk'), (1.0, 1.0))
>>> repo.forget("u1"), repo.latest().histories, repo.forget("u1")
(1, {}, 0)
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shopstream.jobs.config import RetrainConfig
from shopstream.jobs.errors import JobError, JobSetupError
from shopstream.jobs.history import History
from shopstream.profiles import (
    ProfileError,
    RfmConfig,
    fit_bgnbd,
    fit_gamma_gamma,
    summarise,
)
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.gamma_gamma import GammaGammaParams, customer_lifetime_value
from shopstream.profiles.summary import CustomerSummary
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.training import ModelTrainer

__all__ = ["ModelRepository", "TrainedModel", "models_dir", "train"]

_FORMAT = 1


@dataclass
class TrainedModel:
    """One trained version; ``lists`` are :class:`~shopstream.recommend.published.
    PublishedLists` tables, ``histories`` each shopper's strongest products."""

    version: int
    trained_at_ms: int
    valid_from_ms: int
    source: str
    events: int
    lists: dict[str, dict[Any, list[tuple[int, Any]]]]
    histories: dict[str, tuple[str, ...]]
    ltv: dict[str, Any] = field(default_factory=dict)
    segments: dict[str, float] = field(default_factory=dict)
    rules: int = 0

    def profile_parts(self) -> tuple[dict[str, float], dict[str, float] | None,
                                     dict[str, float] | None, int]:
        """The RFM thresholds, BG/NBD and Gamma-Gamma parameters (``None``: none) the
        profiles should use, and the version the parameters were fitted by (0: none)."""
        segments = self.segments or _default_segments()
        ltv = self.ltv if self.ltv.get("fitted") else self.ltv.get("previous")
        if not isinstance(ltv, dict):
            return segments, None, None, 0
        return (segments, ltv.get("bgnbd"), ltv.get("gammaGamma"),
                int(ltv.get("version", self.version)))

    def manifest(self) -> dict[str, Any]:
        """What a person (or ``shopstream jobs list``) reads about this version."""
        return {"format": _FORMAT, "version": self.version,
                "trainedAt": _iso(self.trained_at_ms), "validFromMs": self.valid_from_ms,
                "source": self.source, "events": self.events,
                "shoppers": len(self.histories),
                "lists": {kind: len(table) for kind, table in self.lists.items()},
                "rules": self.rules, "lifetimeValue": self.ltv, "segments": self.segments}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def models_dir(store_url: str, configured: str | None) -> Path:
    """Where model versions go: ``configured``, else ``<store>.models`` beside a SQLite
    store (a Redis store needs ``models`` in the jobs configuration)."""
    if configured:
        return Path(configured)
    if "://" in store_url:
        msg = ("the jobs need a `models` directory in their configuration when the store is "
               "a server (Redis)")
        raise JobSetupError(msg)
    path = Path(store_url)
    return path.with_name(path.stem + ".models")


def train(history: History, config: RetrainConfig, version: int, now_ms: int,
          recommend: RecommendConfig | None = None) -> TrainedModel:
    """Learn every model from ``history`` (see the module documentation)."""
    rec = recommend or RecommendConfig()
    trainer = ModelTrainer(rec)
    purchases: list[tuple[str, Any, float]] = []
    last = 0
    for event in history.events:
        ts = event.timestamp_ms
        last = max(last, ts)
        kind = str(event.event_type)
        if event.items:
            products = [item.product_id for item in event.items]
            for product in products:
                trainer.learn_step(event.session_id, event.user_id, product, kind, ts)
            if kind == "PURCHASE":
                trainer.learn_basket(products, ts)
        elif event.product_id is not None:
            trainer.learn_step(event.session_id, event.user_id, event.product_id, kind, ts)
        if kind == "PURCHASE":
            amount = event.cart_total if event.cart_total is not None else sum(
                item.price * item.quantity for item in event.items or ())
            purchases.append((event.user_id, datetime.fromtimestamp(ts / 1000, UTC).date(),
                              float(amount)))
    valid_from = last + 1
    trainer.publish_all(valid_from, valid_from)
    rules = trainer.mine_rules(valid_from) if trainer.baskets else 0
    histories = {user: trainer.history(user) for user in trainer.users}
    return TrainedModel(version, now_ms, valid_from, history.source, len(history.events),
                        trainer.lists.tables, histories,
                        _fit_ltv(purchases, config.min_ltv_customers),
                        _fit_segments(purchases, last), rules)


def _fit_ltv(purchases: list[tuple[str, Any, float]], min_customers: int) -> dict[str, Any]:
    if not purchases:
        return {"fitted": False, "reason": "no purchases in the history"}
    end = max(day for _, day, _ in purchases)
    summaries = summarise(purchases, calibration_end=end)
    repeat = [s for s in summaries if s.frequency > 0 and s.average_value > 0]
    if len(repeat) < min_customers:
        return {"fitted": False, "customers": len(summaries),
                "reason": f"{len(repeat)} repeat customers, fewer than {min_customers}"}
    try:
        bgnbd = fit_bgnbd([s.frequency for s in summaries], [s.recency for s in summaries],
                          [s.age for s in summaries])
        spend = fit_gamma_gamma([s.frequency for s in repeat],
                                [s.average_value for s in repeat])
    except ProfileError as exc:
        return {"fitted": False, "customers": len(summaries), "reason": str(exc)}
    degenerate = _degenerate(bgnbd, spend, repeat)
    if degenerate:
        return {"fitted": False, "customers": len(summaries), "reason": degenerate}
    return {"fitted": True, "customers": len(summaries), "calibrationEnd": end.isoformat(),
            "bgnbd": {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b},
            "gammaGamma": {"p": spend.p, "q": spend.q, "gamma": spend.gamma}}


def _degenerate(bgnbd: BgNbdParams, spend: GammaGammaParams,
                repeat: list[CustomerSummary]) -> str:
    """Why a fit is of no use (empty: it is): a history with too little spread between
    customers drives the likelihood to the edge of the parameter space, where P(alive)
    or the CLV of the repeat customers is not a number."""
    params = (bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b, spend.p, spend.q, spend.gamma)
    with np.errstate(all="ignore"):
        freq = np.array([s.frequency for s in repeat], dtype=np.float64)
        rec = np.array([s.recency for s in repeat], dtype=np.float64)
        age = np.array([s.age for s in repeat], dtype=np.float64)
        alive = np.asarray(bgnbd.p_alive(freq, rec, age))
        clv = np.asarray(customer_lifetime_value(
            bgnbd, spend, frequency=freq, recency=rec, age=age,
            average_value=[s.average_value for s in repeat], horizon_steps=12,
            periods_per_step=52 / 12, discount_rate=0.01))
    if all(np.isfinite(params)) and np.isfinite(alive).all() and np.isfinite(clv).all():
        return ""
    shown = ", ".join(f"{v:.3g}" for v in params)
    return (f"degenerate fit (r, alpha, a, b, p, q, gamma = {shown}): P(alive) or the CLV "
            f"of the repeat customers is not a number; the history shows too little "
            f"spread between customers")


def _default_segments() -> dict[str, float]:
    default = RfmConfig()
    return {"recent_days": default.recent_days, "lapsed_days": default.lapsed_days,
            "frequent_orders": default.frequent_orders, "high_value": default.high_value}


def _fit_segments(purchases: list[tuple[str, Any, float]], last_ms: int) -> dict[str, float]:
    if not purchases:
        return _default_segments()
    end = datetime.fromtimestamp(last_ms / 1000, UTC).date()
    orders: dict[str, int] = {}
    spend: dict[str, float] = {}
    latest: dict[str, Any] = {}
    for user, day, amount in purchases:
        orders[user] = orders.get(user, 0) + 1
        spend[user] = spend.get(user, 0.0) + amount
        latest[user] = max(latest.get(user, day), day)
    since = np.array([(end - day).days for day in latest.values()], dtype=np.float64)
    recent = max(1.0, float(np.percentile(since, 25)))
    lapsed = max(recent + 1.0, float(np.percentile(since, 75)))
    frequent = max(2, round(float(np.percentile(list(orders.values()), 80))))
    valuable = max(0.01, float(np.percentile(list(spend.values()), 80)))
    RfmConfig(recent, lapsed, frequent, valuable)  # validates them
    return {"recent_days": recent, "lapsed_days": lapsed, "frequent_orders": frequent,
            "high_value": round(valuable, 2)}


class ModelRepository:
    """Model versions in ``directory`` (see the module documentation)."""

    def __init__(self, directory: str | Path, keep: int = 4) -> None:
        self.directory = Path(directory)
        self.keep = keep

    def versions(self) -> list[int]:
        """Saved versions, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(p.name[1:]) for p in self.directory.glob("v[0-9]*")
                      if p.name[1:].isdigit() and (p / "manifest.json").exists())

    def next_version(self) -> int:
        found = self.versions()
        return found[-1] + 1 if found else 1

    def save(self, model: TrainedModel) -> Path:
        """Write ``model`` as its version, then drop versions beyond ``keep``."""
        final = self.directory / f"v{model.version:06d}"
        tmp = self.directory / f".v{model.version:06d}.tmp"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with open(tmp / "model.pkl", "wb") as handle:
                pickle.dump({"format": _FORMAT, "model": model}, handle,
                            protocol=pickle.HIGHEST_PROTOCOL)
            (tmp / "manifest.json").write_text(json.dumps(model.manifest(), indent=2) + "\n")
            tmp.rename(final)
        except OSError as exc:
            msg = f"cannot save model version {model.version} in {str(self.directory)!r}: {exc}"
            raise JobError(msg) from None
        for old in self.versions()[:-self.keep]:
            shutil.rmtree(self.directory / f"v{old:06d}", ignore_errors=True)
        return final

    def last_ltv(self) -> dict[str, Any] | None:
        """The lifetime-value parameters the newest saved versions use: those of the
        newest version that fitted them (or carried them over from an earlier one), with
        that version's number; ``None`` when no saved version has any. Reads manifests
        only."""
        for version in reversed(self.versions()):
            path = self.directory / f"v{version:06d}" / "manifest.json"
            try:
                ltv = json.loads(path.read_text()).get("lifetimeValue") or {}
            except (OSError, ValueError):
                continue
            if ltv.get("fitted"):
                return {"version": version, "bgnbd": ltv["bgnbd"],
                        "gammaGamma": ltv["gammaGamma"]}
            if isinstance(ltv.get("previous"), dict):
                previous: dict[str, Any] = ltv["previous"]
                return previous
        return None

    def latest(self) -> TrainedModel | None:
        """The newest saved version, or ``None``."""
        found = self.versions()
        return self.load(found[-1]) if found else None

    def forget(self, user_id: str) -> int:
        """Rewrite every saved version without ``user_id``'s history (the only place a
        model names a shopper); return how many versions held it. For erasure: the
        lists are per product and keep no shopper id."""
        changed = 0
        for version in self.versions():
            model = self.load(version)
            if model is None or user_id not in model.histories:
                continue
            del model.histories[user_id]
            folder = self.directory / f"v{version:06d}"
            tmp = folder / "model.pkl.tmp"
            try:
                with open(tmp, "wb") as handle:
                    pickle.dump({"format": _FORMAT, "model": model}, handle,
                                protocol=pickle.HIGHEST_PROTOCOL)
                tmp.replace(folder / "model.pkl")
                (folder / "manifest.json").write_text(
                    json.dumps(model.manifest(), indent=2) + "\n")
            except OSError as exc:
                msg = f"cannot rewrite model version {version} in {str(folder)!r}: {exc}"
                raise JobError(msg) from None
            changed += 1
        return changed

    def load(self, version: int) -> TrainedModel | None:
        """Saved version ``version``, or ``None`` when it is not there."""
        path = self.directory / f"v{version:06d}" / "model.pkl"
        if not path.exists():
            return None
        try:
            with open(path, "rb") as handle:
                saved = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            msg = f"cannot read the model {str(path)!r}: {exc}"
            raise JobError(msg) from None
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            msg = f"the model {str(path)!r} has an unknown format: retrain it"
            raise JobError(msg)
        model: TrainedModel = saved["model"]
        return model
