"""Purchase histories shaped like the BG/NBD's own story, for tests that refit the
lifetime-value models: each shopper buys at their own rate (gamma distributed across
shoppers) until they drop out after a purchase (with a beta distributed chance). A
history where every shopper behaves alike drives the fit to the edge of the parameter
space, and the retrain rightly refuses it."""

from __future__ import annotations

import random

from shopstream.events import EventType, Item, ShopperEvent

DAY_MS = 86_400_000


def order(user: str, ts: int, price: float, n: int) -> ShopperEvent:
    """Order number ``n`` of ``user``: one item of ``price``."""
    return ShopperEvent(EventType.PURCHASE, ts, f"{user}-s{n}", user_id=user,
                        order_id=f"{user}-o{n}", cart_total=price,
                        items=(Item("p1", category="Toys", price=price),))


def bgnbd_shoppers(start_ms: int, users: int = 80, seed: int = 11,
                   days: int = 70) -> list[ShopperEvent]:
    """Orders of ``users`` shoppers over ``days`` days from ``start_ms`` (unsorted)."""
    rng = random.Random(seed)
    events = []
    for u in range(users):
        rate = rng.gammavariate(0.8, 1 / 0.15)  # purchases a week
        dropout = rng.betavariate(1.0, 3.0)
        day, n = rng.uniform(0, 20), 0
        while day < days:
            events.append(order(f"u{u}", start_ms + int(day * DAY_MS) + u * 1_000,
                                float(rng.randint(10, 30)), n))
            n += 1
            if rng.random() < dropout:
                break
            day += rng.expovariate(rate / 7)
    return events
