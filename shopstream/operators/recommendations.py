"""Product recommendations for every product view and add to cart, while the shopper is
still in the store.

Keyed by session: each ``VIEW_PRODUCT`` and ``ADD_TO_CART`` of a session produces a
:class:`~shopstream.events.recommendations.RecommendationEvent` on
``product-recommendations`` within the same event-time step, from the blend of every
strategy (:mod:`shopstream.recommend`), never naming a product in the basket, the one
just viewed or added, or one the catalog says is unavailable.

The models are shared by all sessions, so they arrive as broadcasts (what a partitioned
engine needs: every parallel instance sees them all):

- ``events`` - every action trains popularity, the session neighbours and the personal
  history/CF models (a broadcast input sees each event before any keyed stage);
- ``basket-completions`` - completed baskets train the bought-together counts;
- ``rule-updates`` - the rule miner's changes keep the basket rules current;
- ``trending-products`` - the latest trending list;
- ``catalog-changes`` - a ``PRODUCT_CHANGE`` with ``quantity`` 0 (out of stock, inactive,
  deleted) keeps a product out of every recommendation until one with stock arrives.

The keyed state of a session (touched products, basket, user) is cleared after
``session_gap_ms`` of inactivity.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Stage, Topology
>>> op = RecommendationOperator()
>>> topology = Topology((Stage(op, ("events",), lambda e: e.session_id,
...                            broadcast_inputs=("events",)),),
...                     sink_streams=("product-recommendations",))
>>> def view(ts, session, product):
...     return ShopperEvent(EventType.VIEW_PRODUCT, ts, session, event_id=f"e{ts}",
...                         product_id=product)
>>> events = [view(1, "a", "tea"), view(2, "a", "milk"), view(3, "b", "tea")]
>>> last = run_topology(topology, events)[-1].record
>>> last.session_id, last.recommended_products, last.trigger_product_id
('b', ('milk',), 'tea')
>>> last.recommendation_type, last.recommendation_id
('PERSONAL', 'b:e3')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.recommendations import (
    RecommendationContext,
    RecommendationEvent,
    TrendingProducts,
)
from shopstream.events.records import BasketCompletion, Output
from shopstream.mining import RuleChange
from shopstream.recommend.base import (
    BASKET_BASED,
    CROSS_SELL,
    PERSONAL,
    POPULAR,
    TRENDING,
    VIEW_BASED,
    Basket,
    RecContext,
    Step,
)
from shopstream.recommend.basket_rules import BasketRules
from shopstream.recommend.blend import Blender
from shopstream.recommend.suite import RecommendConfig, build_recommenders
from shopstream.recommend.trending import Trending
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["RecommendationOperator", "RecommendationsConfig"]

_TRIGGERS = frozenset({"VIEW_PRODUCT", "ADD_TO_CART"})
_LEARNED = frozenset({"VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE"})


@dataclass(frozen=True)
class RecommendationsConfig:
    """How the recommendation operator behaves.

    Parameters
    ----------
    recommend
        The strategies, the blend and ``k`` (products per recommendation).
    session_items
        Latest products of a session kept as its context.
    session_gap_ms
        Inactivity after which a session's state is dropped (default 30 minutes).
    """

    recommend: RecommendConfig = field(default_factory=RecommendConfig)
    session_items: int = 20
    session_gap_ms: int = 30 * 60_000

    def __post_init__(self) -> None:
        for name in ("session_items", "session_gap_ms"):
            value = getattr(self, name)
            if value <= 0:
                msg = f"RecommendationsConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)


class _Session:
    """What the operator keeps per session."""

    __slots__ = ("basket", "items", "last_ms", "timer_ms", "user_id")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.items: dict[str, None] = {}
        self.basket: Counter[str] = Counter()
        self.last_ms = 0
        self.timer_ms: int | None = None


_SESSION = ValueStateDescriptor[_Session]("session")


class _Models:
    """Every strategy, shared by all sessions (the broadcast state)."""

    def __init__(self, config: RecommendConfig) -> None:
        self.strategies = build_recommenders(config)
        self.blender = Blender(self.strategies, config.blend)
        self.step_learners = [self.strategies[name] for name in (POPULAR, VIEW_BASED, PERSONAL)]
        rules = self.strategies[BASKET_BASED]
        trending = self.strategies[TRENDING]
        if not isinstance(rules, BasketRules) or not isinstance(trending, Trending):
            msg = "recommendations: the suite must hold BasketRules and Trending"
            raise ConfigError(msg)
        self.rules = rules
        self.trending = trending
        #: Products the catalog says cannot be bought now (``catalog-changes``).
        self.unavailable: set[str] = set()


class RecommendationOperator(KeyedOperator[ShopperEvent]):
    """Keyed by session; see the module documentation."""

    name = "recommendations"
    state_descriptors = (_SESSION,)

    def __init__(self, config: RecommendationsConfig | None = None) -> None:
        self.config = config or RecommendationsConfig()
        self.models = _Models(self.config.recommend)

    # -- broadcasts: the shared models ------------------------------------------------
    def process_broadcast(self, update: Any, ctx: Context) -> Iterable[Output]:
        models = self.models
        if isinstance(update, ShopperEvent):
            kind = update.event_type
            if kind == "PRODUCT_CHANGE" and update.product_id is not None:
                # Out of stock, inactive or deleted: never recommended until back.
                if update.quantity == 0:
                    models.unavailable.add(update.product_id)
                else:
                    models.unavailable.discard(update.product_id)
                return ()
            if kind not in _LEARNED:
                return ()
            if update.items:
                products = [item.product_id for item in update.items]
            elif update.product_id is not None:
                products = [update.product_id]
            else:
                return ()
            for product in products:
                step = Step(update.session_id, update.user_id, product, kind,
                            update.timestamp_ms)
                for learner in models.step_learners:
                    learner.learn_one(step)
        elif isinstance(update, BasketCompletion):
            if update.status == "COMPLETED" and update.items:
                models.strategies[CROSS_SELL].learn_basket(Basket(
                    update.session_id, update.user_id,
                    tuple(line.product_id for line in update.items), update.completion_time))
        elif isinstance(update, TrendingProducts):
            models.trending.update(update.products)
        elif isinstance(update, tuple) and update and isinstance(update[0], RuleChange):
            models.rules.apply(update)
        return ()

    def snapshot_broadcast(self) -> Any:
        return self.models

    def restore_broadcast(self, snapshot: Any) -> None:
        self.models = snapshot

    # -- keyed: one session -------------------------------------------------------------
    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SESSION)
        session = state.value() or _Session(element.user_id)
        ts = ctx.timestamp_ms
        session.last_ms = max(session.last_ms, ts)
        session.user_id = element.user_id or session.user_id
        if session.timer_ms is None:
            session.timer_ms = ts + self.config.session_gap_ms
            ctx.register_event_timer(session.timer_ms)
        kind, product = element.event_type, element.product_id
        out: tuple[Output, ...] = ()
        if kind == "PURCHASE":
            session.basket.clear()
        elif product is not None:
            if kind == "REMOVE_FROM_CART":
                session.basket[product] -= element.quantity or 1
                if session.basket[product] <= 0:
                    del session.basket[product]
            elif kind in _TRIGGERS:
                items = session.items
                items.pop(product, None)
                items[product] = None
                if len(items) > self.config.session_items:
                    del items[next(iter(items))]
                if kind == "ADD_TO_CART":
                    session.basket[product] += element.quantity or 1
                out = (self._recommend(element, session, ctx),)
        state.update(session)
        return out

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SESSION)
        session = state.value()
        if session is None:
            return ()
        due = session.last_ms + self.config.session_gap_ms
        if timestamp_ms >= due:
            state.clear()
        else:
            session.timer_ms = due
            ctx.register_event_timer(due)
            state.update(session)
        return ()

    def _recommend(self, event: ShopperEvent, session: _Session, ctx: Context) -> Output:
        cfg = self.config.recommend
        product = event.product_id
        basket = frozenset(session.basket) | {product} if product else frozenset(session.basket)
        if self.models.unavailable:
            basket |= self.models.unavailable
        context = RecContext(ctx.key, session.user_id, tuple(session.items), basket,
                             ctx.timestamp_ms)
        ranked = self.models.blender.rank(context, cfg.k)
        sources = tuple(r.source for r in ranked)
        kind = Counter(sources).most_common(1)[0][0] if sources else POPULAR
        best_possible = sum(w for _, w in cfg.blend.weights if w > 0) / (
            cfg.blend.rank_offset + 1)
        # A list the fallback chain had to start has no evidence behind it: confidence 0.
        confidence = (min(1.0, ranked[0].score / best_possible)
                      if ranked and best_possible and not ranked[0].fallback else 0.0)
        record = RecommendationEvent(
            recommendation_id=f"{ctx.key}:{event.event_id}",
            session_id=ctx.key,
            user_id=session.user_id,
            recommendation_type=kind,
            recommended_products=tuple(r.product_id for r in ranked),
            scores=tuple(round(r.score, 6) for r in ranked),
            confidence=round(confidence, 4),
            trigger_event=event.event_type,
            trigger_product_id=product,
            timestamp=ctx.timestamp_ms,
            context=RecommendationContext(len(session.basket), len(session.items),
                                          cfg.blend.variant, sources),
        )
        return Output(streams.PRODUCT_RECOMMENDATIONS, ctx.key, record)
