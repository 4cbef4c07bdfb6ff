"""Identity resolution, keyed by session: anonymous sessions join their user at login.

A shopper event whose ``userId`` is missing carries the session id as its user (see
:class:`~shopstream.events.model.ShopperEvent`): it is *anonymous*. Per session this
operator keeps the user the session has shown (the bounded session -> user map) and the
anonymous events seen before it:

* an event with a real user id names the session's user (the first one named wins for
  anonymous events; an event with its own user id always goes to that user);
* once the user is known, every event of the session goes on to ``profile-events`` as a
  :class:`ResolvedEvent` for that user, the held anonymous ones first; events without a
  user id of their own are marked ``merged``;
* anonymous events of a session without a user yet are held (at most
  ``max_held_events``; beyond it they go on at once under the session id);
* a session ends ``session_gap_ms`` of event time after its latest event: held events
  then go on under the session id (an anonymous profile) and the session is forgotten.

Every event goes on exactly once, so nothing is counted twice downstream. Bound: one
entry per open session with at most ``max_held_events`` events; state of a session is
dropped at its end.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.VIEW_PRODUCT, 1_000, "s1", product_id="p"),
...        ShopperEvent(EventType.PAGE_VIEW, 2_000, "s1", user_id="u1"),
...        ShopperEvent(EventType.VIEW_PRODUCT, 3_000, "s2", product_id="q")]
>>> for o in run_operator(IdentityResolver(), evs, key_by=lambda e: e.session_id,
...                       sink_streams=["profile-events"]):
...     print(o.key, o.record.event.timestamp_ms, o.record.merged, o.record.anonymous)
u1 1000 True False
u1 2000 False False
s2 3000 False True
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["IdentityResolver", "ResolvedEvent", "SessionIdentity", "known_user"]


class ResolvedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event on its way to the profile of ``user_id``; ``merged``: it has no user id of
    its own and joins the user its session showed (before or after it: whichever order
    the events came in); ``anonymous``: no user id ever showed (``user_id`` is the
    session id)."""

    user_id: str
    event: ShopperEvent
    merged: bool = False
    anonymous: bool = False


class SessionIdentity(msgspec.Struct, gc=False):
    """The user a session has shown (``""``: none yet), its latest event time, and the
    anonymous events held until a user shows."""

    user: str
    last_ms: int
    held: list[ShopperEvent]


_IDENTITY = ValueStateDescriptor[SessionIdentity]("identity")


def known_user(event: ShopperEvent) -> str:
    """The event's real user id, ``""`` for an anonymous event.

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> known_user(ShopperEvent(EventType.PAGE_VIEW, 0, "s1")), known_user(
    ...     ShopperEvent(EventType.PAGE_VIEW, 0, "s1", user_id="u7"))
    ('', 'u7')
    """
    user = event.user_id
    return user if user and user != event.session_id else ""


class IdentityResolver(KeyedOperator[ShopperEvent]):
    """Keyed by session: resolves anonymous events to their user (see module docs)."""

    name = "profile-identity"
    state_descriptors = (_IDENTITY,)

    def __init__(self, config: ProfilesConfig | None = None) -> None:
        self.config = config or ProfilesConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_IDENTITY)
        ident = state.value()
        ts = element.timestamp_ms
        user = known_user(element)
        if ident is None:
            ident = SessionIdentity(user, ts, [])
            ctx.register_event_timer(ts + self.config.session_gap_ms)
        elif ts > ident.last_ms:
            ident.last_ms = ts
        out: list[Output] = []
        if user and not ident.user:
            ident.user = user
            out.extend(Output(streams.PROFILE_EVENTS, user, ResolvedEvent(user, held, True))
                       for held in ident.held)
            ident.held = []
        owner = user or ident.user
        if owner:
            out.append(Output(streams.PROFILE_EVENTS, owner,
                              ResolvedEvent(owner, element, merged=not user)))
        elif len(ident.held) < self.config.max_held_events:
            ident.held.append(element)
        else:
            out.append(_anonymous(element))
        state.update(ident)
        return out

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_IDENTITY)
        ident = state.value()
        if ident is None:
            return ()
        deadline = ident.last_ms + self.config.session_gap_ms
        if timestamp_ms < deadline:
            ctx.register_event_timer(deadline)
            return ()
        state.clear()
        return [_anonymous(held) for held in ident.held]


def _anonymous(event: ShopperEvent) -> Output:
    return Output(streams.PROFILE_EVENTS, event.session_id,
                  ResolvedEvent(event.session_id, event, anonymous=True))
