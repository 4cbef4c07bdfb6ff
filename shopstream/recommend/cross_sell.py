"""CROSS_SELL: products frequently bought together, from completed baskets.

For every pair of products in a completed basket the count of baskets holding both is
kept (baskets are capped at ``max_items`` products so one huge order cannot cost
quadratic time). A candidate ``j`` scores ``sum_i w_i * count(i, j) / count(i)`` over the
session's products ``i`` (the estimated chance that a basket with ``i`` also holds
``j``), with ``w_i = 0.5 ** age`` where the age counts products touched after ``i``:
the latest product weighs most.

Examples
--------
>>> cs = CrossSell()
>>> for n, items in enumerate([("tea", "milk"), ("tea", "milk", "sugar"), ("tea", "lemon")]):
...     cs.learn_basket(Basket(f"s{n}", "u", items, n))
>>> ctx = RecContext("s", "u", ("tea",), frozenset({"tea"}), 9)
>>> [(s.product_id, round(s.score, 2)) for s in cs.rank(ctx, 3)]
[('milk', 0.67), ('lemon', 0.33), ('sugar', 0.33)]
"""

from __future__ import annotations

from shopstream.errors import ConfigError
from shopstream.recommend.base import CROSS_SELL, Basket, RecContext, Recommender, Scored, top_k
from shopstream.recommend.cooccurrence import CoCounts

__all__ = ["CrossSell"]


class CrossSell(Recommender):
    """Bought-together counts.

    Parameters
    ----------
    max_items
        Products of a basket that are paired (its first ones).
    query_items
        The session's latest this many products are looked up.
    partners
        Strongest partners read per looked-up product.
    """

    name = CROSS_SELL

    def __init__(self, max_items: int = 50, query_items: int = 5, partners: int = 100) -> None:
        if max_items < 2 or query_items < 1:
            msg = (f"CrossSell needs max_items >= 2 and query_items >= 1, got {max_items!r} "
                   f"and {query_items!r}")
            raise ConfigError(msg)
        self.max_items = max_items
        self.query_items = query_items
        self.partners = partners
        self.together = CoCounts()

    def learn_basket(self, basket: Basket) -> None:
        self.together.add_group(list(dict.fromkeys(basket.items))[:self.max_items])

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        query = context.items[-self.query_items:]
        scores: dict[str, float] = {}
        together = self.together
        for age, product in enumerate(reversed(query)):
            row = together.top(product, self.partners)
            if not row:
                continue
            weight = 0.5 ** age / together.uses[product]
            for other, count in row:
                scores[other] = scores.get(other, 0.0) + weight * count
        return top_k(scores, k, context)
