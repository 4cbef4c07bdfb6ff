"""Customer 360, keyed by user: one live profile from every source that reaches ``events``.

Per shopper it keeps decayed preferences, sessions, orders, the cart and the shop
database's account record; events (and customer changes) wait in the shopper's state
until the end of their slot (``slide_ms``) and are applied in event-time order, so a
profile does not depend on arrival order within the watermark bound. At each slot end
with new events it emits a :class:`~shopstream.profiles.records.CustomerProfile` on
``profiles`` and, when the segment moved, a
:class:`~shopstream.profiles.records.SegmentChange` on ``segment-changes``. What it
keeps, when it emits, how model versions and trend readings are chosen by event time, and
its bounds are described in ``docs/profiles.md`` (*The customer-profiles operator*).

Examples
--------
>>> from shopstream.events import EventType, Item, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.pipeline import profile_stages
>>> from shopstream.topology import Topology
>>> evs = [ShopperEvent(EventType.VIEW_PRODUCT, 1_000, "s1", product_id="p",
...                     category="Toys", price=12.0),
...        ShopperEvent(EventType.PURCHASE, 50_000, "s1", user_id="u1", order_id="o1",
...                     items=(Item("p", category="Toys", price=12.0),))]
>>> from shopstream.events.profile_models import BgNbdModel, ProfileModel, RfmThresholds
>>> topo = Topology(profile_stages(ProfilesConfig()), ("profiles", "segment-changes"))
>>> refit = ProfileModel(1, 60_000, RfmThresholds(14.0, 60.0, 3, 100.0),
...                      BgNbdModel(0.24, 4.4, 0.79, 2.4))  # in force from 60 s
>>> _ = topo.stages[1].operator.process_broadcast(refit, None)
>>> out = run_topology(topo, evs)  # the end of input drops the idle shopper's state
>>> for o in out:
...     r = o.record
...     at = r.computed_at if o.stream == "profiles" else r.at
...     print(o.stream, r.user_id, r.segment, at, getattr(r, "merged_sessions", "-"))
profiles u1 price_sensitive 60000 1
segment-changes u1 price_sensitive 60000 -
segment-changes u1 None 31536050000 -
>>> p = out[0].record  # one order a few seconds ago; no repeat purchase: alive for sure
>>> p.rfm_segment, p.model_version, p.lifetime.model, p.lifetime.p_alive
('new', 1, 'bgnbd', 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.profile_models import ProfileModel
from shopstream.events.records import Output
from shopstream.events.trends import EntityTrend
from shopstream.operators.feature_catalog import slot_end
from shopstream.operators.history_features import order_value
from shopstream.operators.identity import ResolvedEvent
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profile_models import ModelVersions
from shopstream.operators.profile_state import OpenSession, ProfileState, fold, set_account
from shopstream.profiles.actions import lifetime, next_best_actions
from shopstream.profiles.behaviour import BehaviourStats, behaviour_segment
from shopstream.profiles.engagement import engagement_score, session_metrics
from shopstream.profiles.preferences import (
    DIMENSIONS,
    add,
    advance,
    bump,
    day_of_week,
    hour_of_day,
    price_band,
    top,
    weight_at,
)
from shopstream.profiles.records import CustomerProfile, SegmentChange
from shopstream.profiles.segments import rfm_segment
from shopstream.profiles.trend_board import TrendBoard, TrendBoardConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["CustomerProfileOperator", "OpenSession", "ProfileState"]

_DAY_MS = 86_400_000
_VIEW = EventType.VIEW_PRODUCT
_PURCHASE = EventType.PURCHASE
_ADD = EventType.ADD_TO_CART
_REMOVE = EventType.REMOVE_FROM_CART
_ACCOUNT = EventType.CUSTOMER_CHANGE
_PAGES = frozenset({EventType.PAGE_VIEW, _VIEW, EventType.BROWSE_CATEGORY, EventType.SEARCH})
_INTEREST = {_VIEW: 1.0, EventType.BROWSE_CATEGORY: 1.0, _ADD: 3.0,
             EventType.ADD_TO_WISHLIST: 3.0}
_BOUGHT = 5.0
_encode = msgspec.json.Encoder().encode


_PROFILE = ValueStateDescriptor[ProfileState]("profile")


class CustomerProfileOperator(KeyedOperator[ResolvedEvent | ShopperEvent]):
    """Keyed by user: the Customer 360 profile (see module docs)."""

    name = "customer-profiles"
    state_descriptors = (_PROFILE,)

    def __init__(self, config: ProfilesConfig | None = None) -> None:
        self.config = config or ProfilesConfig()
        cfg = self.config
        self.models = ModelVersions(cfg.churn, cfg.rfm, cfg.max_model_versions)
        self.trends = TrendBoard(TrendBoardConfig(
            cfg.max_trend_categories, cfg.max_trend_versions, cfg.trend_max_age_ms))

    # -- the profile-models and category-trends broadcasts -----------------------------------
    def process_broadcast(self, update: Any, ctx: Context) -> Iterable[Output]:
        """Keep a :class:`~shopstream.events.profile_models.ProfileModel` version or a
        category :class:`~shopstream.events.trends.EntityTrend` reading (other broadcast
        records are not for this operator)."""
        if isinstance(update, ProfileModel):
            self.models.apply(update)
        elif isinstance(update, EntityTrend):
            self.trends.apply(update)
        return ()

    def snapshot_broadcast(self) -> Any:
        models = self.models.snapshot()
        trends = self.trends.snapshot()
        # Without trends the snapshot is the models' alone, as before trends came.
        return models if trends is None else {"models": models, "trends": trends}

    def restore_broadcast(self, snapshot: Any) -> None:
        if isinstance(snapshot, dict):
            if snapshot["trends"] is not None:
                self.trends.restore(snapshot["trends"])
            snapshot = snapshot["models"]
        if snapshot is not None:
            self.models.restore(snapshot)

    def process_element(self, element: ResolvedEvent | ShopperEvent,
                        ctx: Context) -> Iterable[Output]:
        if isinstance(element, ShopperEvent):  # catalog-changes: accounts only
            if element.event_type is not _ACCOUNT:
                return ()
            element = ResolvedEvent(element.user_id, element)
        state = ctx.state(_PROFILE)
        st = state.value()
        ts = element.event.timestamp_ms
        if st is None:
            st = ProfileState(ts, ts, anonymous=element.anonymous)
        st.pending.append(element)
        # A merged event may be older than slots already emitted: it joins the next one.
        slot = slot_end(max(ts, ctx.timestamp_ms), self.config.slide_ms)
        if slot != st.slot_ms:
            ctx.register_event_timer(slot)
            st.slot_ms = slot
        if len(st.pending) >= self.config.max_pending_events:
            self._apply(st, st.pending)
            st.pending = []
        state.update(st)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_PROFILE)
        st = state.value()
        if st is None:
            return ()
        cfg = self.config
        if st.pending:
            due = [r for r in st.pending if r.event.timestamp_ms <= timestamp_ms]
            if due:
                st.pending = [r for r in st.pending if r.event.timestamp_ms > timestamp_ms]
                self._apply(st, due)
        gap = cfg.session_gap_ms
        sessions = st.sessions
        if sessions:
            ended = [sid for sid, s in sessions.items() if s.last_ms + gap <= timestamp_ms]
            for sid in ended:
                fold(st.totals, sessions.pop(sid))
        idle = cfg.anonymous_idle_ms if st.anonymous else cfg.user_idle_ms
        if not st.pending and not st.sessions and timestamp_ms >= st.last_ms + idle:
            state.clear()
            if st.segment is None:
                return ()
            return (Output(streams.SEGMENT_CHANGES, ctx.key,
                           SegmentChange(ctx.key, st.segment, None, timestamp_ms)),)
        out: list[Output] = []
        # An ended session changes no metric (open sessions count already): no emission.
        if st.dirty:
            st.dirty = False
            out = self._emit(st, ctx.key, timestamp_ms)
        wake = min((s.last_ms + gap for s in st.sessions.values()),
                   default=st.last_ms + idle)
        if st.pending:
            wake = min(wake, slot_end(min(r.event.timestamp_ms for r in st.pending),
                                      cfg.slide_ms))
        ctx.register_event_timer(max(wake, timestamp_ms + 1))
        state.update(st)
        return out

    # -- applying events -----------------------------------------------------------------
    def _apply(self, st: ProfileState, batch: list[ResolvedEvent]) -> None:
        if len(batch) > 1:
            # Time order, ties by content: the content (an encoding) only when times tie.
            ordered = sorted(batch, key=_time)
            if len({r.event.timestamp_ms for r in ordered}) < len(ordered):
                batch.sort(key=_sort_key)
            else:
                batch[:] = ordered
        st.dirty = True
        advance(st.prefs, batch[-1].event.timestamp_ms, self.config.preferences)
        for resolved in batch:
            self._apply_one(st, resolved)

    def _apply_one(self, st: ProfileState, resolved: ResolvedEvent) -> None:
        cfg = self.config
        pcfg = cfg.preferences
        prefs = st.prefs
        event = resolved.event
        ts = event.timestamp_ms
        kind = event.event_type
        if kind is _ACCOUNT:
            set_account(st, event)  # not shopper activity: nothing else changes
            return
        st.events += 1
        st.first_ms = min(st.first_ms, ts)
        st.last_ms = max(st.last_ms, ts)
        if ts > prefs.ref_ms:
            advance(prefs, ts, pcfg)
        # What add() does per touch, once per event: every touch here has the event's time
        # (weight * decay is add()'s own product, so the weights are the same bits).
        decay = 0.5 ** ((prefs.ref_ms - ts) / pcfg.half_life_ms) if ts < prefs.ref_ms else 1.0
        weights, cap = prefs.weights, pcfg.max_entries
        bump(weights, "activity", "events", decay, cap)
        bump(weights, "hour", hour_of_day(ts), decay, cap)
        bump(weights, "weekday", day_of_week(ts), decay, cap)
        if event.device:
            bump(weights, "device", event.device, decay, cap)
        if event.platform:
            bump(weights, "platform", event.platform, decay, cap)
        session = self._session(st, event)
        if resolved.merged and not session.merged:
            session.merged = True
            st.merged_sessions += 1
        if event.campaign:
            session.campaign = True
        if kind in _PAGES:
            session.pages += 1
        if kind is _VIEW:
            st.views += 1
        weight = _INTEREST.get(kind)
        if weight is not None:
            weight *= decay
            if event.category:
                bump(weights, "category", event.category, weight, cap)
            if event.brand:
                bump(weights, "brand", event.brand, weight, cap)
            if event.price is not None:
                bump(weights, "price", price_band(event.price, pcfg), weight, cap)
        if kind is _ADD or kind is _REMOVE:
            pid = event.product_id
            if kind is _REMOVE or pid in st.cart or len(st.cart) < cfg.max_cart_lines:
                st.cart.apply(event)
        elif kind is _PURCHASE:
            st.cart.apply(event)
            self._order(st, session, event)

    def _session(self, st: ProfileState, event: ShopperEvent) -> OpenSession:
        ts = event.timestamp_ms
        session = st.sessions.get(event.session_id)
        if session is None:
            if len(st.sessions) >= self.config.max_open_sessions:
                oldest = min(st.sessions.items(), key=lambda item: (item[1].last_ms, item[0]))
                fold(st.totals, st.sessions.pop(oldest[0]))
            session = st.sessions[event.session_id] = OpenSession(ts, ts)
        session.events += 1
        session.first_ms = min(session.first_ms, ts)
        session.last_ms = max(session.last_ms, ts)
        return session

    def _order(self, st: ProfileState, session: OpenSession, event: ShopperEvent) -> None:
        cfg = self.config
        if event.order_id is not None:
            if event.order_id in st.order_ids:
                return
            st.order_ids.append(event.order_id)
            if len(st.order_ids) > cfg.max_order_ids:
                del st.order_ids[0]
        ts = event.timestamp_ms
        st.orders += 1
        st.revenue = round(st.revenue + order_value(event), 2)
        session.purchased = True
        day = ts // _DAY_MS
        if st.first_order_ms < 0:
            st.purchase_days = 1
            st.first_order_ms = st.last_order_ms = ts
        elif day > st.last_order_ms // _DAY_MS or day < st.first_order_ms // _DAY_MS:
            st.purchase_days += 1
        st.first_order_ms = min(st.first_order_ms, ts)
        deal = bool(event.campaign) or session.campaign
        lines = [(i.category, i.brand, i.price, i.quantity) for i in event.items or ()]
        if not lines:
            lines = [(event.category, event.brand, event.price or 0.0, event.quantity or 1)]
        low = cfg.behaviour.low_price
        pcfg = cfg.preferences
        categories: list[str] = []
        for category, brand, price, quantity in lines:
            st.items += quantity
            if deal or price <= low:
                st.deal_items += quantity
            if category:
                add(st.prefs, "category", category, _BOUGHT, ts, pcfg)
                if category not in categories:
                    categories.append(category)
            if brand:
                add(st.prefs, "brand", brand, _BOUGHT, ts, pcfg)
            add(st.prefs, "price", price_band(price, pcfg), _BOUGHT, ts, pcfg)
        if ts >= st.last_order_ms:
            st.last_order_ms = ts
            st.last_order_categories = tuple(
                sorted(categories)[:cfg.max_last_order_categories])

    # -- emitting ------------------------------------------------------------------------
    def _emit(self, st: ProfileState, key: str, now_ms: int) -> list[Output]:
        cfg = self.config
        totals = msgspec.structs.replace(st.totals)
        for session in st.sessions.values():
            fold(totals, session)
        metrics = session_metrics(totals)
        activity = weight_at(st.prefs, "activity", "events", now_ms, cfg.preferences)
        stats = BehaviourStats(st.orders, st.revenue, st.views, st.items, st.deal_items,
                               metrics.avg_session_s, metrics.avg_purchase_session_s)
        segment = behaviour_segment(stats, cfg.behaviour)
        avg = round(st.revenue / st.orders, 2) if st.orders else None
        models = self.models.at(now_ms)
        life = lifetime(st.purchase_days, st.first_order_ms, st.last_order_ms, now_ms,
                        avg or 0.0, models.churn)
        rfm = None
        if st.orders:
            days = max(now_ms - st.last_order_ms, 0) / _DAY_MS
            rfm = rfm_segment(days, st.orders, max(st.revenue, 0.0), models.rfm)
        cart_items, cart_value = len(st.cart), float(st.cart.value())
        prefs = {dim: top(st.prefs, dim, cfg.top_preferences) for dim in DIMENSIONS
                 if dim in st.prefs.weights}
        actions = next_best_actions(segment, cart_items, cart_value,
                                    None if life is None else life.p_alive, st.orders,
                                    st.last_order_categories, cfg.actions,
                                    self.trends.rising(prefs.get("category"), now_ms,
                                                       cfg.actions.rising_min_strength))
        profile = CustomerProfile(
            key, now_ms, st.first_ms, st.last_ms, st.events, segment,
            engagement_score(activity, metrics, cfg.engagement), metrics, prefs, st.orders,
            st.revenue, avg, cart_items, cart_value, life, actions,
            st.merged_sessions, rfm, models.version, st.account)
        out = [Output(streams.PROFILES, key, profile)]
        if segment != st.segment:
            out.append(Output(streams.SEGMENT_CHANGES, key,
                              SegmentChange(key, st.segment, segment, now_ms)))
            st.segment = segment
        return out


def _time(resolved: ResolvedEvent) -> int:
    return resolved.event.timestamp_ms


def _sort_key(resolved: ResolvedEvent) -> tuple[int, bytes]:
    return resolved.event.timestamp_ms, _encode(resolved.event)
