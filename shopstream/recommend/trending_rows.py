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

__all__ = ["Candidate", "trending_products"]

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
    # velocity * 1000 = (now * (earlier + 1) - count) * v_num / v_den, a fraction
    # in lowest terms: its double rounds half to even exactly as the fraction would.
    earlier = max(1, config.panes - 1)
    v_num, v_den = 60_000_000, earlier * SCALE * config.slide_ms
    common = math.gcd(v_num, v_den)
    v_num, v_den, step = v_num // common, v_den // common, earlier + 1
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
