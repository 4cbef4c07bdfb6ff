"""Identity resolution, keyed by session: anonymous sessions join their user at login.

A shopper event whose ``userId`` is missing carries the session id as its user (see
:class:`~shopstream.events.model.ShopperEvent`): it is *anonymous*. Per session this
operator keeps the logins the session has shown (events with a real user id) and the
anonymous events not yet resolved. The rule decides from event time alone, so the result
does not depend on arrival order within the watermark bound:

* an event with a real user id goes on at once to that user;
* an anonymous event waits until the watermark passes its time, then joins the user of
  the session's *latest login at or before it* (by event time, ties by event id, or by
  the event's encoded content when it has no id): a shared device switching from ``u1``
  to ``u2`` sends what came after ``u2`` showed to ``u2``;
* an anonymous event before every login of the session joins the *earliest* login,
  decided once the watermark passes that login (so a later-arriving earlier login still
  wins);
* resolved events go on to ``profile-events`` as :class:`ResolvedEvent`, marked
  ``merged``;
* at most ``max_held_events`` anonymous events wait per session; beyond it they go on at
  once under the session id;
* a session ends ``session_gap_ms`` of event time after its latest event: anonymous
  events still waiting (no login ever showed) go on under the session id (an anonymous
  profile) and the session is forgotten. An event later than that end, even one that
  arrives before an earlier event, opens the next session of that id once the end
  passes (unless an event in between, still to arrive, joins them): session boundaries
  depend on event time only.

Every event goes on exactly once, so nothing is counted twice downstream. Bound: one
entry per open session with at most ``max_held_events`` waiting events, as many events
after its end, and at most ``max_held_events`` logins (only the latest login the
watermark has passed is kept, plus those still within the bound); the work per event is
O(waiting events + logins), so O(``max_held_events``); state of a session is dropped at
its end.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.VIEW_PRODUCT, 1_000, "s1", product_id="p"),
...        ShopperEvent(EventType.PAGE_VIEW, 2_000, "s1", user_id="u1"),
...        ShopperEvent(EventType.PAGE_VIEW, 3_000, "s1", user_id="u2"),
...        ShopperEvent(EventType.VIEW_PRODUCT, 4_000, "s1", product_id="q"),
...        ShopperEvent(EventType.VIEW_PRODUCT, 5_000, "s2", product_id="q")]
>>> outs = run_operator(IdentityResolver(), evs, key_by=lambda e: e.session_id,
...                     sink_streams=["profile-events"])
>>> for o in sorted(outs, key=lambda o: o.record.event.timestamp_ms):
...     print(o.key, o.record.event.timestamp_ms, o.record.merged, o.record.anonymous)
u1 1000 True False
u1 2000 False False
u2 3000 False False
u2 4000 True False
s2 5000 False True
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["IdentityResolver", "Login", "ResolvedEvent", "SessionIdentity", "event_order",
           "known_user"]

_encode = msgspec.json.Encoder().encode


class ResolvedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event on its way to the profile of ``user_id``; ``merged``: it has no user id of
    its own and joins the user its session showed (see the module docs for which);
    ``anonymous``: no user id ever showed (``user_id`` is the session id)."""

    user_id: str
    event: ShopperEvent
    merged: bool = False
    anonymous: bool = False


class Login(msgspec.Struct, frozen=True, gc=False):
    """An event of the session with a real user id: its time, tie-break and user."""

    timestamp_ms: int
    tie: bytes
    user: str


class SessionIdentity(msgspec.Struct, gc=False):
    """The logins a session has shown (sorted by ``(time, tie)``), its latest event time,
    the anonymous events waiting for the watermark or a login, and the events (any) that
    came after the session's end in event time, waiting for it to end."""

    last_ms: int
    logins: list[Login]
    held: list[ShopperEvent]
    after: list[ShopperEvent] = msgspec.field(default_factory=list)


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


def event_order(event: ShopperEvent) -> tuple[int, bytes]:
    """The total order of events the rule uses: event time, then the event id, or the
    encoded event when it has none.

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> event_order(ShopperEvent(EventType.PAGE_VIEW, 7, "s1", event_id="e1"))
    (7, b'e1')
    """
    return event.timestamp_ms, event.event_id.encode() if event.event_id else _encode(event)


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
        out: list[Output] = []
        if user:
            out.append(Output(streams.PROFILE_EVENTS, user, ResolvedEvent(user, element)))
        if ident is None:
            ident = SessionIdentity(ts, [], [])
            ctx.register_event_timer(ts + self.config.session_gap_ms)
        if ts > ident.last_ms + self.config.session_gap_ms:
            # After the session's end in event time: it opens the next session, whatever
            # arrived first (an event still to come in between may yet join the two).
            if len(ident.after) < self.config.max_held_events:
                ident.after.append(element)
            elif not user:
                out.append(_anonymous(element))
        else:
            self._absorb(ident, element, ctx, out)
        state.update(ident)
        return out

    def _absorb(self, ident: SessionIdentity, element: ShopperEvent, ctx: Context,
                out: list[Output]) -> None:
        """Add an event of the open session: a login, or an anonymous event to wait."""
        cfg = self.config
        ts = element.timestamp_ms
        ident.last_ms = max(ident.last_ms, ts)
        user = known_user(element)
        if user:
            order, tie = event_order(element)
            logins = ident.logins
            at = len(logins)
            while at and (logins[at - 1].timestamp_ms, logins[at - 1].tie) > (order, tie):
                at -= 1
            logins.insert(at, Login(order, tie, user))
            if len(logins) > cfg.max_held_events:
                del logins[0]
            if ident.held:  # waiting events may join this login once the watermark passes
                ctx.register_event_timer(ts)
                for held in ident.held:
                    if held.timestamp_ms > ts:
                        ctx.register_event_timer(held.timestamp_ms)
        elif len(ident.held) < cfg.max_held_events:
            ident.held.append(element)
            if ident.logins:  # else it waits for a login (its timer) or the session end
                ctx.register_event_timer(ts)
        else:
            out.append(_anonymous(element))
        if ident.after:  # the session grew: events after its old end may now belong to it
            ident.after.sort(key=event_order)
            while ident.after and (ident.after[0].timestamp_ms
                                   <= ident.last_ms + cfg.session_gap_ms):
                self._absorb(ident, ident.after.pop(0), ctx, out)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_IDENTITY)
        ident = state.value()
        if ident is None:
            return ()
        out: list[Output] = []
        if ident.held:
            out = self._resolve(ident, timestamp_ms)
            if ident.held and ident.logins and ident.logins[0].timestamp_ms > timestamp_ms:
                ctx.register_event_timer(ident.logins[0].timestamp_ms)
        deadline = ident.last_ms + self.config.session_gap_ms
        if timestamp_ms >= deadline:
            out.extend(_anonymous(held) for held in ident.held)
            if not ident.after:
                state.clear()
                return out
            # The next session of this id: the events that came after the end.
            after = sorted(ident.after, key=event_order)
            ident = SessionIdentity(after[0].timestamp_ms, [], [])
            ident.after = after[1:]
            self._absorb(ident, after[0], ctx, out)
            out.extend(self._resolve(ident, timestamp_ms))
            deadline = ident.last_ms + self.config.session_gap_ms
        ctx.register_event_timer(deadline)
        _forget_passed(ident, timestamp_ms)
        state.update(ident)
        return out

    @staticmethod
    def _resolve(ident: SessionIdentity, watermark_ms: int) -> list[Output]:
        """Resolve the waiting events at or before ``watermark_ms`` that have an owner."""
        logins = ident.logins
        first = logins[0] if logins and logins[0].timestamp_ms <= watermark_ms else None
        out: list[Output] = []
        keep: list[ShopperEvent] = []
        for held in sorted(ident.held, key=event_order):
            owner = None
            if held.timestamp_ms <= watermark_ms and first is not None:
                key = event_order(held)
                owner = first.user
                for login in logins:
                    if (login.timestamp_ms, login.tie) > key:
                        break
                    owner = login.user
            if owner is None:
                keep.append(held)
            else:
                out.append(Output(streams.PROFILE_EVENTS, owner,
                                  ResolvedEvent(owner, held, merged=True)))
        ident.held = keep
        return out


def _forget_passed(ident: SessionIdentity, watermark_ms: int) -> None:
    """Keep only the latest login the watermark has passed (the only one a later event
    can still join) and those after it; none while events wait for the earliest one."""
    logins = ident.logins
    passed = 0
    while passed < len(logins) and logins[passed].timestamp_ms <= watermark_ms:
        passed += 1
    if passed > 1:  # every waiting event at or before the watermark has joined a login
        del logins[:passed - 1]


def _anonymous(event: ShopperEvent) -> Output:
    return Output(streams.PROFILE_EVENTS, event.session_id,
                  ResolvedEvent(event.session_id, event, anonymous=True))
