"""PERSONAL: the shopper's own history, plus item-item collaborative filtering.

Two parts, added:

- **history** - every product the user acted on, weighted by kind
  (:class:`~shopstream.recommend.popularity.KindWeights`) and decayed by event time
  (``0.5 ** (age / history_half_life_ms)``): shoppers buy again what they bought before;
- **item-item CF** - for each user, the products they touched count as co-occurring
  (within their latest ``cf_history`` distinct products, learned incrementally as each new
  product arrives); a candidate ``j`` gets ``cf_weight * sum_i cos(i, j)`` over the user's
  ``cf_profile`` strongest history products ``i``, with ``cos(i, j) = c(i, j) /
  sqrt(n(i) n(j))``. That reaches products the user never touched but users like them did.

History scores are divided by the user's largest one and CF scores by theirs, so both
parts lie in ``[0, 1]`` before weighting.

Examples
--------
>>> p = Personal()
>>> steps = [("u1", "milk"), ("u1", "eggs"), ("u1", "milk"), ("u2", "milk"), ("u2", "jam")]
>>> for t, (user, product) in enumerate(steps):
...     p.learn_one(Step(f"s-{user}", user, product, "ADD_TO_CART", t))
>>> ctx = RecContext("s9", "u1", (), frozenset(), 10)
>>> [s.product_id for s in p.rank(ctx, 3)]
['milk', 'eggs', 'jam']
"""

from __future__ import annotations

import math
from collections import deque

from shopstream.errors import ConfigError
from shopstream.recommend.base import PERSONAL, RecContext, Recommender, Scored, Step, top_k
from shopstream.recommend.cooccurrence import CoCounts
from shopstream.recommend.popularity import KindWeights

__all__ = ["Personal"]


class _History:
    __slots__ = ("recent", "scores")

    def __init__(self, size: int) -> None:
        # product -> (decayed score, event time the score refers to)
        self.scores: dict[str, tuple[float, int]] = {}
        self.recent: deque[str] = deque(maxlen=size)


class Personal(Recommender):
    """History and item-item CF per user; see the module documentation.

    Parameters
    ----------
    weights
        Weight of each action kind.
    history_half_life_ms
        Event time after which a past action counts half (default 30 days).
    cf_weight
        Weight of the CF part against the history part.
    cf_history
        Distinct latest products per user that count as co-occurring.
    cf_profile
        History products whose neighbours are looked up per request.
    max_products
        Products remembered per user (the weakest are dropped beyond it).
    cf_partners
        Strongest co-occurring products read per profile product.
    """

    name = PERSONAL

    def __init__(self, weights: KindWeights | None = None,
                 history_half_life_ms: int = 30 * 86_400_000, cf_weight: float = 0.5,
                 cf_history: int = 30, cf_profile: int = 8, max_products: int = 500,
                 cf_partners: int = 30) -> None:
        for label, value in (("history_half_life_ms", history_half_life_ms),
                             ("cf_history", cf_history), ("cf_profile", cf_profile),
                             ("max_products", max_products), ("cf_partners", cf_partners)):
            if value <= 0:
                msg = f"Personal.{label} must be > 0, got {value!r}"
                raise ConfigError(msg)
        if cf_weight < 0:
            msg = f"Personal.cf_weight must be >= 0, got {cf_weight!r}"
            raise ConfigError(msg)
        self.weights = weights or KindWeights()
        self.history_half_life_ms = history_half_life_ms
        self.cf_weight = cf_weight
        self.cf_history = cf_history
        self.cf_profile = cf_profile
        self.max_products = max_products
        self.cf_partners = cf_partners
        self._users: dict[str, _History] = {}
        self._co = CoCounts()

    def learn_one(self, step: Step) -> None:
        weight = self.weights.of(step.kind)
        if not weight:
            return
        history = self._users.get(step.user_id)
        if history is None:
            history = self._users[step.user_id] = _History(self.cf_history)
        product, now = step.product_id, step.timestamp_ms
        old = history.scores.get(product)
        score = weight if old is None else self._decayed(old, now) + weight
        history.scores[product] = (score, now)
        if old is None and len(history.scores) > self.max_products:
            weakest = min(history.scores, key=lambda p: self._decayed(history.scores[p], now))
            del history.scores[weakest]
        if product in history.recent:
            return
        self._co.add_one(product, tuple(history.recent))
        history.recent.append(product)

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        history = self._users.get(context.user_id)
        if history is None:
            return []
        now = context.now_ms
        own = {p: self._decayed(entry, now) for p, entry in history.scores.items()}
        top = max(own.values(), default=0.0)
        scores = {p: s / top for p, s in own.items()} if top > 0 else {}
        if self.cf_weight > 0:
            profile = sorted(own, key=lambda p: (-own[p], p))[:self.cf_profile]
            cf: dict[str, float] = {}
            co = self._co
            uses = co.uses
            for product in profile:
                row = co.top(product, self.cf_partners)
                if not row:
                    continue
                base = own[product] / math.sqrt(uses[product])
                for other, count in row:
                    cf[other] = cf.get(other, 0.0) + base * count / math.sqrt(uses[other])
            best = max(cf.values(), default=0.0)
            if best > 0:
                factor = self.cf_weight / best
                for other, value in cf.items():
                    scores[other] = scores.get(other, 0.0) + factor * value
        return top_k(scores, k, context)

    def _decayed(self, entry: tuple[float, int], now_ms: int) -> float:
        score, at = entry
        age = now_ms - at
        return score * 0.5 ** (age / self.history_half_life_ms) if age > 0 else score
