"""The learning half of the recommender: pair counts of one key group, published as
deltas.

A :class:`PairLearner` sees the shopper actions of some sessions (in the pipeline: one
key group, a stable hash of the session id; offline: all of them) and counts, per anchor
product:

- ``NEXT_ITEM`` - the product viewed or added right after the anchor in a session;
- ``CO_OCCURRENCE`` - the products of the same session, each pair weighted
  ``1 / distance`` within the latest ``window`` distinct products (both directions);
- ``CROSS_SELL`` - the products bought in the same basket (the first ``basket_items``
  of each completed basket);
- ``POPULAR`` (anchor ``""``) - every action, weighted by kind.

:meth:`PairLearner.drain` hands out what was counted since the last drain as
:class:`~shopstream.events.recommendations.PairDelta` records; the merge side
(:mod:`shopstream.recommend.counts`, keyed by anchor product) adds them up and publishes
the top lists.

Cost: one action costs ``O(window + session_window)``, one basket
``O(basket_items ** 2)``, whatever the history or the catalog. Memory: at most
``max_sessions`` sessions of ``max(window, session_window)`` products,
plus the pending deltas, which :attr:`PairLearner.full` reports once they pass
``max_pending`` entries (the operator then drains early; SESSION_PAIRS' entries have
their own cap, see :class:`PairsConfig`).

Examples
--------
>>> learner = PairLearner(PairsConfig(window=2))
>>> for t, p in enumerate(["a", "b", "c"]):
...     learner.learn_step("s1", p, "VIEW_PRODUCT", t)
>>> deltas = {(d.kind, d.anchor): dict(zip(d.items, d.weights)) for d in learner.drain()}
>>> deltas[("NEXT_ITEM", "a")], deltas[("CO_OCCURRENCE", "c")]
({'b': 1.0}, {'a': 0.5, 'b': 1.0})
>>> deltas[("POPULAR", "")]
{'a': 0.25, 'b': 0.25, 'c': 0.25}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shopstream.errors import require_positive
from shopstream.events.recommendations import PairDelta
from shopstream.recommend.base import CO_OCCURRENCE, CROSS_SELL, NEXT_ITEM, POPULAR, SESSION_PAIRS
from shopstream.recommend.popularity import KindWeights

__all__ = ["TOUCH_KINDS", "PairLearner", "PairsConfig", "add_both_ways"]

#: Actions that put a product in the session's sequence.
TOUCH_KINDS = frozenset({"VIEW_PRODUCT", "ADD_TO_CART"})


@dataclass(frozen=True)
class PairsConfig:
    """Caps of one pair learner.

    Parameters
    ----------
    window
        Latest distinct products of a session a new one is paired with.
    session_window
        Latest distinct products a new one is paired with for ``SESSION_PAIRS``
        (:mod:`shopstream.recommend.session_pairs`); 0 (the default) learns none.
    basket_items
        Products of a completed basket paired with each other (the first ones added).
    max_sessions
        Sessions remembered (least recently active forgotten first).
    session_gap_ms
        A session idle this long starts afresh.
    max_pending
        Pending pair entries after which :attr:`PairLearner.full` asks for a drain
        (``SESSION_PAIRS`` entries count against their own cap, ``2 * ceil(session_window
        / window)`` times as large, so that learning them does not change when the other
        kinds drain, nor therefore how their counts decay).
    weights
        Popularity weight of each action kind.
    """

    window: int = 5
    session_window: int = 0
    basket_items: int = 20
    max_sessions: int = 20_000
    session_gap_ms: int = 30 * 60_000
    max_pending: int = 50_000
    weights: KindWeights = field(default_factory=KindWeights)

    def __post_init__(self) -> None:
        require_positive(self, "window", "basket_items", "max_sessions", "session_gap_ms",
                         "max_pending")
        require_positive(self, "session_window", allow_zero=True)


class _Recent:
    __slots__ = ("items", "last_ms")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.last_ms = 0


class PairLearner:
    """Pair counts of the sessions it sees; see the module documentation."""

    # Defaults for a learner restored from a checkpoint taken before SESSION_PAIRS.
    _wide = 0
    _wide_cap = 0

    def __init__(self, config: PairsConfig | None = None) -> None:
        self.config = config or PairsConfig()
        self._sessions: OrderedDict[str, _Recent] = OrderedDict()
        self._pending: dict[str, dict[str, dict[str, float]]] = {
            NEXT_ITEM: {}, CO_OCCURRENCE: {}, CROSS_SELL: {}, POPULAR: {}, SESSION_PAIRS: {}}
        self._size = 0
        self._wide = 0
        cfg = self.config
        self._wide_cap = cfg.max_pending * 2 * -(-cfg.session_window // cfg.window)

    @property
    def full(self) -> bool:
        """Whether the pending deltas passed ``max_pending`` entries (or SESSION_PAIRS'
        their own cap)."""
        return self._size >= self.config.max_pending or (
            self._wide_cap > 0 and self._wide >= self._wide_cap)

    @property
    def sessions(self) -> int:
        """Sessions remembered now."""
        return len(self._sessions)

    def _bump(self, kind: str, anchor: str, other: str, weight: float) -> None:
        self._size += _add(self._pending[kind], anchor, other, weight)

    def _learn_wide(self, items: list[str], product: str, window: int) -> None:
        """SESSION_PAIRS: ``product`` with the session's latest ``window`` other products
        (the same pairs as :func:`~shopstream.recommend.session_pairs.pair_shares`)."""
        self._wide += add_both_ways(self._pending[SESSION_PAIRS], product, reversed(items),
                                    window)

    def learn_step(self, session_id: str, product: str, kind: str, timestamp_ms: int) -> None:
        """Learn one action of ``session_id`` on ``product``."""
        cfg = self.config
        weight = cfg.weights.of(kind)
        if weight:
            self._bump(POPULAR, "", product, weight)
        if kind not in TOUCH_KINDS:
            return
        sessions = self._sessions
        recent = sessions.get(session_id)
        if recent is None or timestamp_ms - recent.last_ms >= cfg.session_gap_ms:
            recent = sessions[session_id] = _Recent()
            if len(sessions) > cfg.max_sessions:
                sessions.popitem(last=False)
        sessions.move_to_end(session_id)
        if timestamp_ms > recent.last_ms:
            recent.last_ms = timestamp_ms
        items = recent.items
        if items and items[-1] == product:
            return
        if items:
            self._bump(NEXT_ITEM, items[-1], product, 1.0)
        if cfg.session_window:
            self._learn_wide(items, product, cfg.session_window)
        # Co-occurrence both ways, 1 / distance, with the latest ``window`` products.
        self._size += add_both_ways(
            self._pending[CO_OCCURRENCE], product,
            reversed(items[-cfg.window:] if cfg.session_window else items), cfg.window)
        if product in items:
            items.remove(product)
        items.append(product)
        if len(items) > max(cfg.window, cfg.session_window):
            del items[0]

    def learn_basket(self, items: Sequence[str]) -> None:
        """Learn the products of one completed basket (bought together)."""
        distinct = list(dict.fromkeys(items))[:self.config.basket_items]
        for anchor in distinct:
            for other in distinct:
                if other != anchor:
                    self._bump(CROSS_SELL, anchor, other, 1.0)

    def drain(self) -> list[PairDelta]:
        """Everything counted since the last drain, by kind then anchor; then forget it."""
        out: list[PairDelta] = []
        for kind, table in self._pending.items():
            for anchor in sorted(table):
                row = table[anchor]
                others = sorted(row)
                out.append(PairDelta(kind, anchor, tuple(others),
                                     tuple([row[o] for o in others])))
            table.clear()
        self._size = 0
        self._wide = 0
        return out


def add_both_ways(table: dict[str, dict[str, float]], product: str, recent: Iterable[str],
                  limit: int) -> int:
    """Add ``1 / distance`` to ``table`` for ``product`` and each of ``recent`` (newest
    first; ``product`` itself skipped; at most ``limit``), both ways; return how many new
    entries that made.

    Examples
    --------
    >>> table: dict[str, dict[str, float]] = {}
    >>> add_both_ways(table, "x", iter(["b", "x", "a"]), 5), table
    (4, {'b': {'x': 1.0}, 'x': {'b': 1.0, 'a': 0.5}, 'a': {'x': 0.5}})
    """
    added = 0
    distance = 0
    for other in recent:
        if other == product:
            continue
        distance += 1
        if distance > limit:
            break
        share = 1.0 / distance
        added += _add(table, other, product, share) + _add(table, product, other, share)
    return added


def _add(table: dict[str, dict[str, float]], anchor: str, other: str, weight: float) -> int:
    """Add ``weight`` to ``table[anchor][other]``; 1 when that made a new entry, else 0.

    Examples
    --------
    >>> table: dict[str, dict[str, float]] = {}
    >>> _add(table, "a", "b", 1.0), _add(table, "a", "b", 0.5), table
    (1, 0, {'a': {'b': 1.5}})
    """
    row = table.get(anchor)
    if row is None:
        table[anchor] = {other: weight}
        return 1
    old = row.get(other)
    if old is None:
        row[other] = weight
        return 1
    row[other] = old + weight
    return 0
