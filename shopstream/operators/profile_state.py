"""What the Customer 360 operator keeps per shopper: open sessions and the profile state.

:class:`ProfileState` holds a shopper's counters, decayed preferences, open sessions,
cart and waiting events (the caps are in
:class:`~shopstream.operators.profile_config.ProfilesConfig` and the operator's module
documentation); :func:`fold` adds an ended session to the session totals and
:func:`set_account` takes a customer record of the shop database.

Examples
--------
>>> st = ProfileState(first_ms=0, last_ms=0)
>>> fold(st.totals, OpenSession(first_ms=0, last_ms=90_000, events=3, pages=2,
...                             purchased=True))
>>> st.totals.sessions, st.totals.duration_s, st.totals.purchase_sessions
(1, 90.0, 1)
>>> from shopstream.events import EventType, ShopperEvent
>>> set_account(st, ShopperEvent(EventType.CUSTOMER_CHANGE, 9, "pg-catalog", user_id="7",
...                              country="DE"))
>>> set_account(st, ShopperEvent(EventType.CUSTOMER_CHANGE, 5, "pg-catalog", user_id="7",
...                              country="FR"))  # older: the newer record stays
>>> st.account
Account(updated_at=9, country='DE', region=None, device=None, platform=None)
"""

from __future__ import annotations

import msgspec

from shopstream.events.model import ShopperEvent
from shopstream.operators.cart import Cart
from shopstream.operators.identity import ResolvedEvent
from shopstream.profiles.engagement import SessionTotals
from shopstream.profiles.preferences import Preferences
from shopstream.profiles.records import Account

__all__ = ["OpenSession", "ProfileState", "fold", "set_account"]


class OpenSession(msgspec.Struct, gc=False):
    """A session of the shopper that has not ended yet."""

    first_ms: int
    last_ms: int
    events: int = 0
    pages: int = 0
    purchased: bool = False
    campaign: bool = False
    merged: bool = False


class ProfileState(msgspec.Struct, gc=False):
    """Everything the operator keeps for one shopper (see module docs for the caps)."""

    first_ms: int
    last_ms: int
    anonymous: bool = False
    events: int = 0
    prefs: Preferences = msgspec.field(default_factory=Preferences)
    sessions: dict[str, OpenSession] = msgspec.field(default_factory=dict)
    totals: SessionTotals = msgspec.field(default_factory=SessionTotals)
    orders: int = 0
    revenue: float = 0.0
    views: int = 0
    items: int = 0
    deal_items: int = 0
    purchase_days: int = 0
    first_order_ms: int = -1
    last_order_ms: int = -1
    order_ids: list[str] = msgspec.field(default_factory=list)
    cart: Cart = msgspec.field(default_factory=Cart)
    last_order_categories: tuple[str, ...] = ()
    segment: str | None = None
    merged_sessions: int = 0
    pending: list[ResolvedEvent] = msgspec.field(default_factory=list)
    slot_ms: int = -1
    dirty: bool = False
    account: Account | None = None


def fold(totals: SessionTotals, session: OpenSession) -> None:
    """Add the ended ``session`` to ``totals``."""
    seconds = (session.last_ms - session.first_ms) / 1000
    totals.sessions += 1
    totals.duration_s += seconds
    totals.pages += session.pages
    totals.bounces += session.events == 1
    if session.purchased:
        totals.purchase_sessions += 1
        totals.purchase_duration_s += seconds


def set_account(st: ProfileState, change: ShopperEvent) -> None:
    """Take the customer record ``change`` (a ``CUSTOMER_CHANGE``) unless the state holds
    a newer one (event time; at equal times the later applied, which the operator's
    content order makes the same on every run)."""
    ts = change.timestamp_ms
    if st.account is None or ts >= st.account.updated_at:
        st.account = Account(ts, change.country, change.region, change.device,
                             change.platform)
