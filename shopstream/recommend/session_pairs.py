"""``SESSION_PAIRS``: what shares the whole session with a product, with a long memory.

The same-session co-occurrence of the session-based literature's strongest simple
methods (the session-wide context of STAN and V-SKNN, the ``1 / distance`` weights of
Sequential Rules; Ludewig & Jannach 2018, Garg et al. 2019), learned as per-product lists
like the other anchored kinds so that it can serve live:

- **learning** (:class:`~shopstream.recommend.pairs.PairLearner`, when
  ``PairsConfig.session_window`` > 0): a product newly touched in a session is paired with
  each of the session's latest ``session_window`` distinct products, both directions,
  weighted ``1 / distance`` (distance in distinct products: :func:`pair_shares`);
- **memory**: its merged counts halve every :data:`HALF_LIFE_MS` (a year) instead of the
  other kinds' two weeks (:func:`counts_config`). CO_OCCURRENCE follows what shoppers do
  now; SESSION_PAIRS keeps the associations that hold over seasons. On the static
  protocol's real data most of SESSION_PAIRS' gain over CO_OCCURRENCE comes from this
  memory: with decay off for every kind the two are within a few per cent (see
  docs/commands/evaluate.md);
- **serving**: an anchored strategy (:class:`~shopstream.recommend.strategies.SessionPairs`):
  each session product's list votes by reciprocal rank, each older product weighing
  ``decay`` times the next newer one, folded into the product's ``BLENDED`` list when the
  blend weighs it.

Cost: learning ``O(session_window)`` per action (``2 * session_window`` pair entries at
most); the learner remembers ``max(window, session_window)`` products per session, for at
most ``max_sessions`` sessions; the merged counts are capped per anchor by
``CountsConfig.capacity`` like every kind, so the long memory costs no state; serving
reads the same capped lists as the other anchored kinds.

Examples
--------
>>> pair_shares(["a", "b", "c"], "d", 2)
[('c', 1.0), ('b', 0.5)]
>>> from shopstream.recommend.counts import CountsConfig
>>> counts_config(SESSION_PAIRS, CountsConfig()).half_life_ms == HALF_LIFE_MS
True
>>> counts_config("CO_OCCURRENCE", CountsConfig()) == CountsConfig()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from shopstream.recommend.base import SESSION_PAIRS
from shopstream.recommend.counts import CountsConfig

__all__ = ["HALF_LIFE_MS", "SESSION_PAIRS", "WINDOW", "counts_config", "pair_shares"]

#: The ``PairsConfig.session_window`` offline evaluation learns with when none is set.
WINDOW = 20
#: Event time after which a SESSION_PAIRS count halves: a year.
HALF_LIFE_MS = 365 * 86_400_000


def pair_shares(items: Sequence[str], product: str, window: int) -> list[tuple[str, float]]:
    """The products ``product`` is paired with and each pair's weight: the latest
    ``window`` distinct products of ``items`` (oldest first, ``product`` itself skipped),
    ``1 / distance`` from the newest.

    Examples
    --------
    >>> pair_shares(["a", "x", "b"], "x", 5)
    [('b', 1.0), ('a', 0.5)]
    """
    out: list[tuple[str, float]] = []
    distance = 0
    for other in reversed(items):
        if other == product:
            continue
        distance += 1
        if distance > window:
            break
        out.append((other, 1.0 / distance))
    return out


def counts_config(kind: str, config: CountsConfig) -> CountsConfig:
    """The counts configuration of ``kind``: ``config`` itself, but for SESSION_PAIRS
    a half-life of :data:`HALF_LIFE_MS` (or none when ``config`` decays nothing).
    Cached: one dictionary lookup per call."""
    if kind != SESSION_PAIRS:
        return config
    return _long_memory(config)


@lru_cache(maxsize=16)
def _long_memory(config: CountsConfig) -> CountsConfig:
    if not config.half_life_ms:
        return config
    return replace(config, half_life_ms=max(config.half_life_ms, HALF_LIFE_MS))
