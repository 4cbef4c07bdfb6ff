"""Session metrics, keyed by session: a session ends after 30 minutes of event-time quiet.

Values, emitted at the end of every 30-second slot of event time in which the session
had events:

* ``session_duration``: seconds from the session's first event to its latest;
* ``session_page_count``: events that show the shopper a page (``PAGE_VIEW``,
  ``VIEW_PRODUCT``, ``BROWSE_CATEGORY``, ``SEARCH``);
* ``session_bounce``: ``True`` while the session has exactly one event;
* ``session_cart_ratio``: ``ADD_TO_CART`` events per ``VIEW_PRODUCT`` event (divided by 1
  when there was no view), rounded to 4 places;
* ``session_search_count``: ``SEARCH`` events.

A session whose last event was at ``t`` ends at ``t + session_gap_ms`` unless an event
comes at or before then; its state is dropped and a later event with the same session id
starts a new session.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.PAGE_VIEW, 1_000, "s1"),
...        ShopperEvent(EventType.VIEW_PRODUCT, 5_000, "s1", product_id="p"),
...        ShopperEvent(EventType.ADD_TO_CART, 45_000, "s1", product_id="p")]
>>> for o in run_operator(SessionFeatures(), evs, key_by=lambda e: e.session_id):
...     print(o.key, o.record.computed_at, list(o.record.features.values()))
s1 30000 [4.0, 2, False, 0.0, 0]
s1 60000 [44.0, 2, False, 1.0, 0]
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shopstream.events import streams
from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import SESSION, FeaturesConfig, slot_end
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["SessionFeatures", "SessionStats"]

_VIEW = EventType.VIEW_PRODUCT
_ADD = EventType.ADD_TO_CART
_SEARCH = EventType.SEARCH
_PAGES = frozenset({EventType.PAGE_VIEW, _VIEW, EventType.BROWSE_CATEGORY, _SEARCH})


class SessionStats(msgspec.Struct, gc=False):
    """Running counts of one session; ``deadline_ms`` is its pending end-of-session timer."""

    first_ms: int
    last_ms: int
    events: int = 0
    pages: int = 0
    views: int = 0
    adds: int = 0
    searches: int = 0
    dirty: bool = True
    deadline_ms: int = -1


_STATS = ValueStateDescriptor[SessionStats]("session-stats")


class SessionFeatures(KeyedOperator[ShopperEvent]):
    """Keyed by session: the session metrics of the catalog (see module docs)."""

    name = "session-features"
    state_descriptors = (_STATS,)

    def __init__(self, config: FeaturesConfig | None = None) -> None:
        self.config = config or FeaturesConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_STATS)
        stats = state.value()
        ts = element.timestamp_ms
        if stats is None:
            stats = SessionStats(ts, ts)
            ctx.register_event_timer(slot_end(ts, self.config.slide_ms))
        else:
            stats.last_ms = ts
            if not stats.dirty:
                stats.dirty = True
                ctx.register_event_timer(slot_end(ts, self.config.slide_ms))
        stats.events += 1
        kind = element.event_type
        if kind in _PAGES:
            stats.pages += 1
            if kind is _VIEW:
                stats.views += 1
            elif kind is _SEARCH:
                stats.searches += 1
        elif kind is _ADD:
            stats.adds += 1
        state.update(stats)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_STATS)
        stats = state.value()
        if stats is None:
            return ()
        out: tuple[Output, ...] = ()
        # An end-of-session check before the slot of the latest event leaves the emission
        # to that slot's own timer, so values are always emitted at slot ends.
        if stats.dirty and timestamp_ms >= slot_end(stats.last_ms, self.config.slide_ms):
            stats.dirty = False
            out = (Output(streams.SHOPPER_FEATURES, ctx.key,
                          ShopperFeatures(SESSION, ctx.key, timestamp_ms, _values(stats))),)
        deadline = stats.last_ms + self.config.session_gap_ms
        if timestamp_ms >= deadline:
            state.clear()
            return out
        if deadline != stats.deadline_ms:
            if stats.deadline_ms >= 0:
                ctx.delete_event_timer(stats.deadline_ms)
            ctx.register_event_timer(deadline)
            stats.deadline_ms = deadline
        state.update(stats)
        return out


def _values(stats: SessionStats) -> dict[str, object]:
    return {
        "session_duration": (stats.last_ms - stats.first_ms) / 1000,
        "session_page_count": stats.pages,
        "session_bounce": stats.events == 1,
        "session_cart_ratio": round(stats.adds / max(stats.views, 1), 4),
        "session_search_count": stats.searches,
    }
