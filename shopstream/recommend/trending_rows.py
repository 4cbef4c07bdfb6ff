"""Trending records from a tracker's totals: :data:`Candidate` rows and
:func:`trending_products`, which makes each row's
:class:`~shopstream.events.recommendations.TrendingProduct` (count, velocity and score,
computed exactly from scaled integers; see :mod:`shopstream.recommend.trending`).

Rows are what two-phase trending sends from each key group to the merge
(:mod:`shopstream.operators.trending_partials`): they sort across trackers, and the merge
makes the records of the best of them with :func:`trending_products`, as one tracker's
:meth:`~shopstream.recommend.trending.TrendTracker.snapshot` does.

Examples
--------
>>> from shopstream.recommend.trending import TrendingConfig
>>> config = TrendingConfig(window_ms=180_000, slide_ms=60_000)
>>> row = (-100.0, "a", 100, 100, 0, 100, 0)  # one action of weight 1 in the newest pane
>>> trending_products(config, [row])
[TrendingProduct(product_id='a', count=1.0, velocity=1.0, score=1.0)]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from shopstream.events.recommendations import TrendingProduct

if TYPE_CHECKING:
    from shopstream.recommend.trending import TrendingConfig

__all__ = ["Candidate", "records_of", "trending_products"]

#: Sketch counts are integers: weights are scaled by this and scaled back in records.
SCALE = 100
#: The weight of a pane's odd part in a ranking key, ``even + SQRT2 * odd``.
SQRT2 = math.sqrt(2.0)

#: One product of :meth:`~shopstream.recommend.trending.TrendTracker.candidates`:
#: ``(-rank, product id, count, even, odd, count in the newest pane, offset)``: the totals
#: (scaled integers, relative to the tracker's base pane, ``offset`` panes before the
#: newest) that :func:`trending_products` makes its record of. Rows sort best first.
Candidate = tuple[float, str, int, int, int, int, int]


def trending_products(config: TrendingConfig, rows: list[Candidate]) -> list[TrendingProduct]:
    """The records of :meth:`~shopstream.recommend.trending.TrendTracker.candidates`
    rows, in their order: count, velocity and score, computed exactly (see
    :mod:`shopstream.recommend.trending`). One pass over ``rows``.

    Examples
    --------
    >>> from shopstream.recommend.trending import TrendingConfig, TrendTracker
    >>> tracker = TrendTracker(TrendingConfig(window_ms=180_000, slide_ms=60_000))
    >>> tracker.add("a", 1.0, 1_000)
    >>> trending_products(tracker.config, tracker.candidates(59_999, 5))
    [TrendingProduct(product_id='a', count=1.0, velocity=1.0, score=1.0)]
    """
    v_num, v_den, step = _velocity_terms(config)
    root2 = SQRT2
    out = []
    for _, product, count, even, odd, now, offset in rows:
        # score * 1000 = (even + sqrt(2) odd) * 2 ** (-offset / 2) * 1000 / 100; with an
        # odd offset, (2 odd + sqrt(2) even) * 2 ** (-(offset + 1) / 2) * 10. Without a
        # sqrt(2) part the product is exact (a power of two times an integer).
        if offset % 2:
            unit = 10.0 / (1 << ((offset + 1) >> 1))
            score = round((2 * odd + root2 * even if even else 2 * odd) * unit) / 1000
        else:
            unit = 10.0 / (1 << (offset >> 1))
            score = round((even + root2 * odd if odd else even) * unit) / 1000
        out.append(TrendingProduct(product, count / SCALE,
                                   round((now * step - count) * v_num / v_den) / 1000,
                                   score))
    return out


def _velocity_terms(config: TrendingConfig) -> tuple[int, int, int]:
    """``(v_num, v_den, step)``: velocity * 1000 = (now * step - count) * v_num / v_den,
    a fraction in lowest terms (its double rounds half to even exactly as the fraction
    would), ``step`` the number of panes of the window but at least 2."""
    earlier = max(1, config.panes - 1)
    v_num, v_den = 60_000_000, earlier * SCALE * config.slide_ms
    common = math.gcd(v_num, v_den)
    return v_num // common, v_den // common, earlier + 1


def records_of(config: TrendingConfig, products: list[str], totals: dict[str, list[int]],
               latest: dict[str, int], offset: int) -> list[TrendingProduct]:
    """What :func:`trending_products` makes of one tracker's rows, from its totals
    (``[count, even, odd]`` by product), its newest pane's counts and the offset shared
    by all its rows, without the rows (the one-phase snapshot: each emission makes
    ``top_n`` records; the same numbers, computed by the same expressions).

    Examples
    --------
    >>> from shopstream.recommend.trending import TrendingConfig
    >>> config = TrendingConfig(window_ms=180_000, slide_ms=60_000)
    >>> records_of(config, ["a"], {"a": [100, 100, 0]}, {"a": 100}, 0)
    [TrendingProduct(product_id='a', count=1.0, velocity=1.0, score=1.0)]
    """
    v_num, v_den, step = _velocity_terms(config)
    root2 = SQRT2
    now_of = latest.get
    out = []
    if offset % 2:  # see trending_products: the odd part is exact, the even one scaled
        unit = 10.0 / (1 << ((offset + 1) >> 1))
        for product in products:
            count, even, odd = totals[product]
            out.append(TrendingProduct(
                product, count / SCALE,
                round((now_of(product, 0) * step - count) * v_num / v_den) / 1000,
                round((2 * odd + root2 * even if even else 2 * odd) * unit) / 1000))
    else:
        unit = 10.0 / (1 << (offset >> 1))
        for product in products:
            count, even, odd = totals[product]
            out.append(TrendingProduct(
                product, count / SCALE,
                round((now_of(product, 0) * step - count) * v_num / v_den) / 1000,
                round((even + root2 * odd if odd else even) * unit) / 1000))
    return out
