"""Builders for tests of operators that consume completed orders (not a test module)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from helpers import ev

from shopstream.events import Item, Output, ShopperEvent, streams
from shopstream.operators.baskets import BasketTracker
from shopstream.runners.embedded.harness import run_topology
from shopstream.state import KeyedOperator
from shopstream.topology import Stage, Topology


def buy(ts: int, user: str = "u1", total: float | None = None,
        items: Sequence[tuple[str, float, int]] = (), order_id: str | None = None,
        session: str | None = None, **fields: Any) -> ShopperEvent:
    """A PURCHASE; ``items`` as ``(product, price, quantity)``; ids derived from ``ts``."""
    lines = tuple(Item(pid, f"name-{pid}", f"cat-{pid[0]}", price, qty)
                  for pid, price, qty in items) or None
    return ev("PURCHASE", ts, session or f"{user}-{ts}", user_id=user, cart_total=total,
              items=lines, order_id=order_id or f"o{ts}", **fields)


def on_orders(operator: KeyedOperator[Any], key_by: Callable[[Any], str],
              events: Sequence[ShopperEvent], bound: int = 5_000) -> list[Output]:
    """What ``operator`` emits when fed the baskets the tracker completes from ``events``."""
    topology = Topology((
        Stage(BasketTracker(), (streams.EVENTS,), key_by=lambda e: e.session_id),
        Stage(operator, (streams.BASKET_COMPLETIONS,), key_by=key_by),
    ), sink_streams=(streams.FRAUD_ALERTS, streams.REVENUE_STATS, streams.TOP_PRODUCTS))
    return run_topology(topology, events, bound)
