"""Cart abandonment per session: a valuable cart with no purchase soon after its last add.

Consumes raw ``events`` keyed by session. An ``ADD_TO_CART`` whose value (price x
quantity) reaches ``min_add_value``, or that brings the cart to ``min_cart_value``, arms
the detector: if no ``PURCHASE`` comes within ``timeout_ms`` of the last add, one
``cart-abandonment`` record is emitted with the cart, its value, recommended next steps
and an offer. A purchase disarms it (a purchase exactly at the timeout still counts:
at equal times events come before timers); further adds push the deadline back; removals
that leave no line worth ``min_add_value`` and a cart below ``min_cart_value`` disarm it.
The cart follows the rules of :mod:`shopstream.operators.cart`, the basket tracker's.
After a record the cart is kept (the shopper still has it), and the next add re-arms the
detector if the cart still qualifies.

Recommendations: until a recommender broadcast exists, they come from the session itself:
products the shopper viewed but did not add, those in a category of the cart first
(``VIEWED_SAME_CATEGORY``), then the others (``VIEWED``), most recent first.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> def e(kind, ts, **kw):
...     return ShopperEvent(EventType[kind], ts, "s1", user_id="ann", **kw)
>>> events = [
...     e("VIEW_PRODUCT", 0, product_id="lamp", category="Home"),
...     e("VIEW_PRODUCT", 1_000, product_id="rug", category="Home"),
...     e("ADD_TO_CART", 2_000, product_id="sofa", category="Home", price=240.0),
... ]
>>> [out] = run_operator(CartAbandonmentDetector(), events, key_by=lambda ev: ev.session_id)
>>> r = out.record
>>> r.cart_value, r.last_add_time, r.detected_at, r.offer
(240.0, 2000, 902000, 'TEN_PERCENT')
>>> [(p.product_id, p.reason) for p in r.recommendations]
[('rug', 'VIEWED_SAME_CATEGORY'), ('lamp', 'VIEWED_SAME_CATEGORY')]
>>> run_operator(CartAbandonmentDetector(), [*events, e("PURCHASE", 902_000)],
...              key_by=lambda ev: ev.session_id)
[]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from shopstream.errors import ConfigError
from shopstream.events import streams
from shopstream.events.insights import CartAbandonment, RecommendedProduct
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import BasketLine, Output
from shopstream.operators.cart import Cart, added_units
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["SESSION_VIEWS", "VIEWED", "VIEWED_SAME_CATEGORY", "AbandonmentConfig",
           "CartAbandonmentDetector"]

VIEWED_SAME_CATEGORY = "VIEWED_SAME_CATEGORY"
VIEWED = "VIEWED"
#: ``recommendationSource`` of recommendations drawn from the session's own views.
SESSION_VIEWS = "session-views"


@dataclass(frozen=True)
class AbandonmentConfig:
    """When a cart counts as abandoned and what the record proposes.

    Parameters
    ----------
    timeout_ms
        Event time after the last add with no purchase (default 15 minutes).
    min_add_value, min_cart_value
        An add arms the detector when its price x quantity reaches ``min_add_value`` or
        the cart's value after it reaches ``min_cart_value`` (both 100.00 by default).
    session_gap_ms
        A session's state is dropped after this much inactivity with nothing pending
        (default 30 minutes, the basket tracker's session gap). The check is lazy, so an
        idle session may be kept up to twice as long.
    view_history
        Recently viewed products remembered for recommendations (default 20).
    max_recommendations
        Products recommended per record (default 3).
    offer_tiers, top_offer
        ``(upper bound, code)`` pairs in increasing order: the offer is the code of the
        first tier whose bound is above the cart value, else ``top_offer``. Defaults:
        below 150 ``FREE_SHIPPING``, below 300 ``TEN_PERCENT``, else ``FIFTEEN_PERCENT``.
    """

    timeout_ms: int = 15 * 60 * 1000
    min_add_value: float = 100.0
    min_cart_value: float = 100.0
    session_gap_ms: int = 30 * 60 * 1000
    view_history: int = 20
    max_recommendations: int = 3
    offer_tiers: tuple[tuple[float, str], ...] = ((150.0, "FREE_SHIPPING"),
                                                  (300.0, "TEN_PERCENT"))
    top_offer: str = "FIFTEEN_PERCENT"

    def __post_init__(self) -> None:
        for name in ("timeout_ms", "session_gap_ms"):
            if getattr(self, name) <= 0:
                msg = f"AbandonmentConfig.{name} must be > 0, got {getattr(self, name)!r}"
                raise ConfigError(msg)
        for name in ("min_add_value", "min_cart_value", "view_history", "max_recommendations"):
            if getattr(self, name) < 0:
                msg = f"AbandonmentConfig.{name} must be >= 0, got {getattr(self, name)!r}"
                raise ConfigError(msg)
        bounds = [bound for bound, _ in self.offer_tiers]
        if bounds != sorted(set(bounds)) or any(not code for _, code in self.offer_tiers):
            msg = ("AbandonmentConfig.offer_tiers must be (bound, code) pairs with increasing "
                   f"bounds and non-empty codes, got {self.offer_tiers!r}")
            raise ConfigError(msg)
        if not self.top_offer:
            msg = f"AbandonmentConfig.top_offer must not be empty, got {self.top_offer!r}"
            raise ConfigError(msg)

    def offer_for(self, cart_value: float) -> str:
        """The offer code for a cart worth ``cart_value``.

        Examples
        --------
        >>> [AbandonmentConfig().offer_for(v) for v in (100.0, 150.0, 299.99, 300.0)]
        ['FREE_SHIPPING', 'TEN_PERCENT', 'TEN_PERCENT', 'FIFTEEN_PERCENT']
        """
        for bound, code in self.offer_tiers:
            if cart_value < bound:
                return code
        return self.top_offer


class _Session(msgspec.Struct):
    """All a session's state in one value: one read and one write per event.

    ``views`` holds ``(product, name, category)``, oldest first; ``wake_ms`` is the earliest
    timer still pending; ``armed`` means a record is due at ``last_add_ms + timeout_ms``.
    """

    user_id: str
    last_ms: int
    wake_ms: int
    views: tuple[tuple[str, str | None, str | None], ...] = ()
    cart: Cart = msgspec.field(default_factory=Cart)
    last_add_ms: int = 0
    armed: bool = False


# Enum member lookups cost ~100 ns each on CPython 3.11; these are read on every event.
_VIEW = EventType.VIEW_PRODUCT
_ADD = EventType.ADD_TO_CART
_REMOVE = EventType.REMOVE_FROM_CART
_PURCHASE = EventType.PURCHASE

_SESSION = ValueStateDescriptor[_Session]("session")


class CartAbandonmentDetector(KeyedOperator[ShopperEvent]):
    """Keyed by session: one ``cart-abandonment`` record per abandoned valuable cart.

    Only views, adds, removes and purchases touch state; one timer per session is
    re-armed lazily (a purchase leaves it to find nothing due), and a session's state is
    dropped once ``session_gap_ms`` passes with nothing pending.
    """

    name = "abandonment"
    state_descriptors = (_SESSION,)

    def __init__(self, config: AbandonmentConfig | None = None) -> None:
        self.config = config or AbandonmentConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        kind = element.event_type
        if kind is not _VIEW and kind is not _ADD and kind is not _REMOVE \
                and kind is not _PURCHASE:
            return ()
        state = ctx.state(_SESSION)
        session = state.value()
        ts = element.timestamp_ms
        if session is None:
            # The first cleanup check waits two gaps: most sessions are over by then, so
            # one timer firing drops them instead of one that re-arms plus one that drops.
            wake = ts + 2 * self.config.session_gap_ms
            session = _Session(element.user_id, ts, wake)
            ctx.register_event_timer(wake)
        elif ts > session.last_ms:
            session.last_ms = ts
        pid = element.product_id
        if kind is _VIEW:
            keep = self.config.view_history
            if keep and pid is not None:
                view = (pid, element.product_name, element.category)
                views = session.views
                # Most sessions view fewer products than they remember: no slicing then.
                session.views = (*views, view) if len(views) < keep else (
                    *views[len(views) + 1 - keep:], view)
        elif kind is _ADD:
            self._add(element, session, ctx)
        elif kind is _REMOVE:
            self._remove(element, session)
        else:
            session.cart.apply(element)
            session.armed = False
        state.update(session)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SESSION)
        session = state.value()
        if session is None:
            return ()
        cfg = self.config
        out: tuple[Output, ...] = ()
        if session.armed and session.last_add_ms + cfg.timeout_ms <= timestamp_ms:
            session.armed = False
            if session.cart:
                out = (Output(streams.CART_ABANDONMENT, ctx.key,
                              self._record(session, ctx.key, timestamp_ms)),)
        idle_ms = session.last_ms + cfg.session_gap_ms
        if not session.armed and idle_ms <= timestamp_ms:
            state.clear()
            return out
        due = idle_ms
        if session.armed:
            # Still due later: the record (and the idle gap, unless already past).
            deadline = session.last_add_ms + cfg.timeout_ms
            due = deadline if idle_ms <= timestamp_ms else min(deadline, idle_ms)
        if session.wake_ms <= timestamp_ms or due < session.wake_ms:
            ctx.register_event_timer(due)
            session.wake_ms = due
        state.update(session)
        return out

    def _add(self, ev: ShopperEvent, session: _Session, ctx: Context) -> None:
        cart = session.cart
        pid = ev.product_id
        if pid is None or not cart.apply(ev):
            return
        cfg = self.config
        # The add's own value: the units it added, at the line's price after it.
        added = cart.lines[pid].price * added_units(ev)
        if not session.armed and added < cfg.min_add_value and \
                cart.value() < cfg.min_cart_value:
            return
        session.armed = True
        session.last_add_ms = ts = ev.timestamp_ms
        due = ts + cfg.timeout_ms
        if due < session.wake_ms:
            ctx.register_event_timer(due)
            session.wake_ms = due

    def _remove(self, ev: ShopperEvent, session: _Session) -> None:
        cart = session.cart
        if cart.apply(ev) and session.armed:
            # Still worth watching only while a line or the whole cart is valuable enough.
            cfg = self.config
            session.armed = cart.value() >= cfg.min_cart_value or any(
                x.price * x.quantity >= cfg.min_add_value for x in cart.lines.values())

    def _record(self, session: _Session, key: str, now_ms: int) -> CartAbandonment:
        items = session.cart.sorted_lines()
        value = session.cart.value()
        return CartAbandonment(
            session_id=key,
            user_id=session.user_id,
            items=items,
            cart_value=value,
            last_add_time=session.last_add_ms,
            detected_at=now_ms,
            recommendations=self._recommend(session, items),
            offer=self.config.offer_for(value),
            recommendation_source=SESSION_VIEWS,
        )

    def _recommend(self, session: _Session, items: tuple[BasketLine, ...],
                   ) -> tuple[RecommendedProduct, ...]:
        limit = self.config.max_recommendations
        categories = {line.category for line in items if line.category is not None}
        seen = set(session.cart.products())
        same: list[RecommendedProduct] = []
        other: list[RecommendedProduct] = []
        for pid, name, category in reversed(session.views):
            if pid in seen:
                continue
            seen.add(pid)
            if category in categories:
                same.append(RecommendedProduct(pid, name, category, VIEWED_SAME_CATEGORY))
            elif len(other) < limit:
                other.append(RecommendedProduct(pid, name, category, VIEWED))
        return tuple((same + other)[:limit])
