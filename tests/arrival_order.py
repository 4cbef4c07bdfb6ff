"""Run the Customer 360 chain (identity resolution -> profiles) in *arrival* order, as
Flink does: no engine sorting; a timer fires once the watermark (newest event time -
bound - 1) reaches it; records go downstream at once with the time they were emitted at;
the upstream operator fires its timers up to a watermark before the downstream one sees
that watermark (as Flink forwards a watermark only after the operator has handled it).
"""

from __future__ import annotations

from typing import Any

from shopstream.events import ShopperEvent
from shopstream.events.records import Output
from shopstream.operators.identity import IdentityResolver, ResolvedEvent
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.operators.profiles import CustomerProfileOperator
from shopstream.runners.embedded.context import StageContext
from shopstream.runners.embedded.timers import TimerQueue

Record = tuple[str, str, Any]


def chain_in_arrival_order(events: list[ShopperEvent], bound: int,
                           config: ProfilesConfig | None = None,
                           profiles: bool = True) -> list[Record]:
    """Every output of identity resolution (``profile-events``, when ``profiles`` is
    false) or of the profile operator, in emit order."""
    cfg = config or ProfilesConfig()
    ident_timers, prof_timers = TimerQueue(), TimerQueue()
    ident_ctx = StageContext(0, "profile-identity", ident_timers)
    prof_ctx = StageContext(0, "customer-profiles", prof_timers)
    identity = IdentityResolver(cfg)
    operator = CustomerProfileOperator(cfg)
    out: list[Record] = []
    watermark = -(2**63)

    def downstream(outputs: Any, at_ms: int) -> None:
        for o in outputs:
            if not profiles:
                out.append((o.stream, o.key, o.record))
                continue
            resolved: ResolvedEvent = o.record
            prof_ctx.key, prof_ctx.timestamp_ms = o.key, at_ms
            prof_ctx.watermark_ms = watermark
            out.extend((p.stream, p.key, p.record)
                       for p in operator.process_element(resolved, prof_ctx))

    def fire(until: int) -> None:
        while (t := ident_timers.peek_time()) is not None and t <= until:
            ts, _, key = ident_timers.pop()
            ident_ctx.key, ident_ctx.timestamp_ms, ident_ctx.watermark_ms = key, ts, ts
            downstream(identity.on_timer(ts, ident_ctx), ts)
        while (t := prof_timers.peek_time()) is not None and t <= until:
            ts, _, key = prof_timers.pop()
            prof_ctx.key, prof_ctx.timestamp_ms, prof_ctx.watermark_ms = key, ts, ts
            emitted: list[Output] = list(operator.on_timer(ts, prof_ctx))
            out.extend((p.stream, p.key, p.record) for p in emitted)

    newest = -(2**63)
    for event in events:
        newest = max(newest, event.timestamp_ms)
        watermark = newest - bound - 1
        ident_ctx.key, ident_ctx.timestamp_ms = event.session_id, event.timestamp_ms
        ident_ctx.watermark_ms = watermark
        downstream(identity.process_element(event, ident_ctx), event.timestamp_ms)
        fire(watermark)
    watermark = 2**63 - 1
    fire(watermark)
    return out


def per_key(records: list[Record]) -> dict[str, list[tuple[str, Any]]]:
    """Records grouped by key (keys are independent: timers of two keys at one time may
    fire in either order)."""
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for stream, key, record in records:
        grouped.setdefault(key, []).append((stream, record))
    return grouped
