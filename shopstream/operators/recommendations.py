"""Product recommendations for every product view and add to cart, while the shopper is
still in the store.

Keyed by shopper (``userId``; an anonymous shopper's is the session id): each
``VIEW_PRODUCT`` and ``ADD_TO_CART`` produces a
:class:`~shopstream.events.recommendations.RecommendationEvent` on
``product-recommendations`` (keyed by session) within the same event-time step: the
blend of the strategies of :mod:`shopstream.recommend.strategies`, never naming a
product in the cart, one the session already touched, or one the catalog says is
unavailable.

Learning is apart from serving. The operator keeps only its shopper's own state: the
latest sessions' products and carts, and the shopper's bounded history (what PERSONAL
recommends from). Everything shared arrives as published, versioned lists on broadcast
inputs, each valid from an event time (:mod:`shopstream.recommend.published`):

- ``recommendation-models`` - each product's ``BLENDED`` list (its next items,
  co-occurring and bought-together products fused by the blend's weights) and the
  popular list from :class:`~shopstream.operators.rec_models.ModelListOperator`, plus
  the per-kind lists a strategy of the blend reads itself (co-occurrence while AFFINITY
  votes, an anchored kind in the fallback chain);
- ``rules-by-antecedent`` - the rule miner's rules per antecedent;
- ``trending-products`` - the latest trending list;
- ``catalog-changes`` - a ``PRODUCT_CHANGE`` with ``quantity`` 0 (out of stock,
  inactive, deleted) keeps a product out of every recommendation until one with stock.

A recommendation reads at most a few short lists (see :class:`ServeConfig`), so its cost
is bounded by configured caps whatever the history, catalog or density of the data. The
shopper's state is cleared after ``history_ttl_ms`` without an action.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.events.recommendations import ModelList
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> op = RecommendationOperator()
>>> op.lists.apply(ModelList("BLENDED", "tea", 0, ("milk", "cake"), (0.2, 0.1),
...                           ("NEXT_ITEM", "CO_OCCURRENCE")))
>>> topology = Topology((Stage(op, ("events",), lambda e: e.user_id),),
...                     sink_streams=("product-recommendations",))
>>> events = [ShopperEvent(EventType.VIEW_PRODUCT, 5, "s1", event_id="e5", product_id="tea")]
>>> rec = run_topology(topology, events)[0].record
>>> rec.session_id, rec.recommended_products, rec.recommendation_type, rec.recommendation_id
('s1', ('milk', 'cake'), 'NEXT_ITEM', 's1:e5')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shopstream.errors import require_positive
from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.recommendations import (
    ModelList,
    RecommendationContext,
    RecommendationEvent,
)
from shopstream.events.records import Output
from shopstream.operators.cart import Cart
from shopstream.recommend.base import (
    BLENDED,
    POPULAR,
    RecContext,
)
from shopstream.recommend.blend import Blender
from shopstream.recommend.history import UserHistory
from shopstream.recommend.published import AVAILABILITY, PublishedLists, lookup
from shopstream.recommend.session_votes import SessionVotes
from shopstream.recommend.strategies import list_strategies
from shopstream.recommend.suite import RecommendConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["RecommendationOperator", "RecommendationsConfig"]

_TRIGGERS = frozenset({"VIEW_PRODUCT", "ADD_TO_CART"})
_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecommendationsConfig:
    """How the recommendation operator behaves.

    Parameters
    ----------
    recommend
        The strategies, the blend, the learning stages and ``k``.
    sessions_per_user
        Sessions of one shopper kept at once (the least recent is dropped).
    session_gap_ms
        Inactivity after which a session starts afresh (default 30 minutes).
    history_ttl_ms
        Inactivity after which a shopper's state is dropped (default 90 days).
    """

    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    sessions_per_user: int = 3
    session_gap_ms: int = 30 * 60_000
    history_ttl_ms: int = 90 * 86_400_000

    def __post_init__(self) -> None:
        require_positive(self, "sessions_per_user", "session_gap_ms", "history_ttl_ms")


class _Session:
    __slots__ = ("cart", "items", "last_ms", "votes")

    def __init__(self) -> None:
        self.items: dict[str, None] = {}
        self.cart = Cart()
        self.votes = SessionVotes()
        self.last_ms = 0


class _Shopper:
    """What the operator keeps per shopper."""

    __slots__ = ("history", "last_ms", "sessions", "timer_ms")

    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.history = UserHistory()
        self.last_ms = 0
        self.timer_ms: int | None = None


_SHOPPER = ValueStateDescriptor[_Shopper]("shopper")


class RecommendationOperator(KeyedOperator[ShopperEvent]):
    """Keyed by shopper; see the module documentation."""

    name = "recommendations"
    state_descriptors = (_SHOPPER,)

    def __init__(self, config: RecommendationsConfig | None = None) -> None:
        self.config = config or RecommendationsConfig()
        self.lists = PublishedLists(self.config.recommend.published)
        self.blender = Blender(list_strategies(self.lists, self.config.recommend.serve),
                               self.config.recommend.blend)
        # The anchored kinds reach requests folded into BLENDED lists: the rec-models stage
        # does not publish those no strategy reads, and a retrain's are dropped here.
        self._skipped = self.config.recommend.unread_kinds()
        self._kind_weights = self.config.recommend.history.weights.by_kind()
        self._best_possible = self.blender.best_possible()
        recommend = self.config.recommend
        self._k = recommend.k
        self._history_n = recommend.serve.history
        self._variant = recommend.blend.variant

    # -- broadcasts: the published lists -------------------------------------------------
    def process_broadcast(self, update: Any, ctx: Context) -> Iterable[Output]:
        if isinstance(update, ShopperEvent):
            if update.event_type == "PRODUCT_CHANGE" and update.product_id is not None:
                self.lists.available(update.product_id, update.quantity != 0,
                                     ctx.timestamp_ms)
            return ()
        if isinstance(update, ModelList) and update.kind in self._skipped:
            return ()
        self.lists.apply(update)
        return ()

    def snapshot_broadcast(self) -> Any:
        return self.lists.tables

    def restore_broadcast(self, snapshot: Any) -> None:
        self.lists.tables = snapshot

    # -- keyed: one shopper ---------------------------------------------------------------
    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SHOPPER)
        shopper = state.value()
        if shopper is None:
            shopper = _Shopper()
            state.update(shopper)
        cfg = self.config
        ts = ctx.timestamp_ms
        if ts > shopper.last_ms:
            shopper.last_ms = ts
        if shopper.timer_ms is None:
            shopper.timer_ms = ts + cfg.history_ttl_ms
            ctx.register_event_timer(shopper.timer_ms)
        kind, product = element.event_type, element.product_id
        weight = self._kind_weights.get(kind, 0.0)
        if weight:
            history_cfg = cfg.recommend.history
            if element.items:
                for item in element.items:
                    shopper.history.add(item.product_id, weight, ts, history_cfg)
            elif product is not None:
                shopper.history.add(product, weight, ts, history_cfg)
        session = self._session(shopper, element.session_id, ts)
        session.cart.apply(element)
        if product is None or kind not in _TRIGGERS:
            # Changed in place: a runner may hold state serialised, so write it back.
            state.update(shopper)
            return ()
        items = session.items
        serve = cfg.recommend.serve
        if product in items:
            del items[product]
        else:
            session.votes.add(product, self.lists.tables.get(BLENDED), ts, serve.depth,
                              serve.decay, serve.votes)
        items[product] = None
        if len(items) > serve.session_cap:
            del items[next(iter(items))]
        state.update(shopper)
        return (self._recommend(element, shopper, session, ctx),)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SHOPPER)
        shopper = state.value()
        if shopper is None:
            return ()
        due = shopper.last_ms + self.config.history_ttl_ms
        if timestamp_ms >= due:
            state.clear()
        else:
            shopper.timer_ms = due
            ctx.register_event_timer(due)
            state.update(shopper)
        return ()

    def _session(self, shopper: _Shopper, session_id: str, ts: int) -> _Session:
        sessions = shopper.sessions
        session = sessions.get(session_id)
        if session is None or ts - session.last_ms >= self.config.session_gap_ms:
            if session is None and len(sessions) >= self.config.sessions_per_user:
                # Room for the new session: drop the least recent of the others (ties:
                # the smaller id); O(sessions_per_user). Never the new one itself.
                del sessions[min([(s.last_ms, sid) for sid, s in sessions.items()])[1]]
            session = sessions[session_id] = _Session()
        if ts > session.last_ms:
            session.last_ms = ts
        return session

    def _recommend(self, event: ShopperEvent, shopper: _Shopper, session: _Session,
                   ctx: Context) -> Output:
        ts = ctx.timestamp_ms
        lines = session.cart.lines
        items = session.items
        # Never recommended: the cart and the session's products. Built once, here: the
        # history is filtered by it and the context carries it.
        basket = frozenset(lines) if lines else _NOTHING
        exclude = basket.union(items) if lines else frozenset(items)
        # Only the past products outside the session and the cart: all PERSONAL (and
        # AFFINITY) may use, none for a shopper whose history is this session.
        context = RecContext(event.session_id, event.user_id, tuple(items), basket, ts,
                             shopper.history.past(self._history_n, exclude, _NOTHING),
                             {BLENDED: session.votes}, exclude, True)
        unavailable = self.lists.tables.get(AVAILABILITY)
        k = self._k
        products, scores, sources, blended_count = self.blender.ranking(
            context, k + 5 if unavailable else k)
        # Whether the first product has evidence behind it (not from the fallback chain).
        evidence = blended_count > 0
        if unavailable:
            kept = [i for i, p in enumerate(products)
                    if lookup(unavailable, p, ts) is not False][:k]
            evidence = bool(kept) and kept[0] < blended_count
            products = [products[i] for i in kept]
            scores = [scores[i] for i in kept]
            sources = [sources[i] for i in kept]
        kind = _most_named(sources) if sources else POPULAR
        best_possible = self._best_possible
        # A list the fallback chain had to start has no evidence behind it: confidence 0.
        confidence = (min(1.0, scores[0] / best_possible)
                      if evidence and best_possible else 0.0)
        session_id = event.session_id
        record = RecommendationEvent(  # positional (cheaper), in the fields' order
            f"{session_id}:{event.event_id}", session_id, event.user_id, kind,
            tuple(products), tuple(scores), confidence, event.event_type,
            event.product_id, ts,
            RecommendationContext(len(lines), len(items), self._variant, tuple(sources)))
        return Output(streams.PRODUCT_RECOMMENDATIONS, session_id, record)


def _most_named(sources: list[str]) -> str:
    """The source named most often, the first named among equals: what ``max(sources,
    key=sources.count)`` gives, without counting every entry when the first one holds
    at least half the list (the usual case: one per product of a recommendation).

    Examples
    --------
    >>> _most_named(["A", "B", "B"]), _most_named(["A", "B"]), _most_named(["A", "A", "B"])
    ('B', 'A', 'A')
    """
    first = sources[0]
    if 2 * sources.count(first) >= len(sources):
        return first
    return max(sources, key=sources.count)
