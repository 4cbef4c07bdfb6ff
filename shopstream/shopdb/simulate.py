"""Shopping sessions written into the shop database, with the simulator's action mix.

The sessions are the simulator's (:class:`shopstream.sim.engine.Simulation`, driven by
the catalog the shop was generated from), so views, adds, removals, wishlist adds and
purchases keep its target shares and coherence. Actions that leave a row become writes,
each its own transaction, as a shop's backend would commit them:

=====================  ====================================================================
action                 rows written
=====================  ====================================================================
``ADD_TO_CART``        ``carts`` row inserted (or its quantity raised)
``REMOVE_FROM_CART``   ``carts`` quantity lowered, or the row deleted
``ADD_TO_WISHLIST``    ``wishlist`` row inserted
``PURCHASE``           ``payments``, ``shipments``, ``orders`` and its ``order_items``, the
                       session's ``carts`` rows deleted and ``products.stock`` lowered,
                       all in one transaction. One order in five (seeded) is placed
                       ``pending`` (payment ``authorized``) and paid 20 s to 3 min later
                       in a transaction of its own: payment ``captured``, order and
                       shipment to their status
views, searches, ...   nothing (the shop database has no click log)
=====================  ====================================================================

Live mode (``minutes``) starts the sessions over the next minutes and writes each action
when its time comes (``speed`` compresses the clock); rows get the server's ``now()``.
History mode (``historical_days``) spreads the sessions over past days and writes them at
once with their simulated timestamps; older orders are already shipped or delivered.

Examples
--------
>>> SimulateConfig(sessions=50, minutes=25).live
True
>>> SimulateConfig(sessions=50, historical_days=30).live
False
>>> SimulateConfig(sessions=5, minutes=1, historical_days=2)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: SimulateConfig: minutes (live) or historical_days, not both
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from shopstream.errors import ConfigError, require
from shopstream.events.model import EventType, ShopperEvent
from shopstream.shopdb.connection import ShopDbError, connected
from shopstream.shopdb.generate import GenerateConfig, catalog_of
from shopstream.sim.config import SimulationConfig
from shopstream.sim.engine import Simulation

__all__ = ["SimulateConfig", "SimulateSummary", "simulate"]

_DAY_MS = 86_400_000
_MINUTE_MS = 60_000
# History ends a little before now, so the last sessions' checkouts are in the past too.
_HISTORY_MARGIN_MS = 2 * 3_600_000
_METHODS = (("card", 62), ("paypal", 18), ("apple_pay", 9), ("google_pay", 7),
            ("bank_transfer", 4))
_CARRIERS = ("UPS", "DHL", "FedEx", "USPS", "DPD", "GLS")
# Share of orders placed pending and paid by a later transaction, and how much later.
_PAID_LATER = 0.2
_PAY_DELAY_MS = (20_000, 180_000)
_ET = EventType


@dataclass(frozen=True)
class SimulateConfig:
    """What ``shopstream db simulate`` does.

    Parameters
    ----------
    sessions
        Shopping sessions to simulate (>= 1).
    minutes
        Live mode: sessions start over this many minutes from now.
    historical_days
        Backfill mode: sessions start over this many past days; written at once.
    seed
        Seed of the sessions (the catalog's seed comes from the database).
    speed
        Live mode only: how many times faster than the wall clock to write (default 1).
    """

    sessions: int = 50
    minutes: float | None = None
    historical_days: float | None = None
    seed: int = 1
    speed: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.sessions, bool) or not isinstance(self.sessions, int) or (
                self.sessions < 1):
            msg = f"SimulateConfig.sessions must be an int >= 1, got {self.sessions!r}"
            raise ConfigError(msg)
        if self.minutes is not None and self.historical_days is not None:
            msg = "SimulateConfig: minutes (live) or historical_days, not both"
            raise ConfigError(msg)
        for name in ("minutes", "historical_days"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and 0 < value <= 3650
                                          * 1440):
                msg = f"SimulateConfig.{name} must be a number > 0, got {value!r}"
                raise ConfigError(msg)
        if not (isinstance(self.speed, int | float) and self.speed > 0):
            msg = f"SimulateConfig.speed must be a number > 0, got {self.speed!r}"
            raise ConfigError(msg)

    @property
    def live(self) -> bool:
        """Whether actions are written as their time comes (not a history backfill)."""
        return self.historical_days is None


@dataclass(frozen=True)
class SimulateSummary:
    """What a simulation wrote; ``actions`` counts every simulated action by type."""

    sessions: int
    actions: dict[str, int]
    cart_adds: int
    cart_removals: int
    wishlist_adds: int
    orders: int
    revenue: float
    seconds: float
    paid_later: int = 0


def simulate(dsn: str, config: SimulateConfig) -> SimulateSummary:
    """Run the sessions of ``config`` against the shop at ``dsn``."""
    with connected(dsn) as conn:
        return _Writer(conn, config).run()


class _Writer:
    """Turns simulated actions into rows; one instance per run."""

    def __init__(self, conn: Any, config: SimulateConfig) -> None:
        self.conn = conn
        self.config = config
        with conn, conn.cursor() as cur:
            cur.execute("SELECT key, value FROM shop_meta")
            meta = dict(cur.fetchall())
            if "seed" not in meta:
                msg = ("the shop has no catalog yet: run `shopstream db generate` before "
                       "`db simulate`")
                raise ShopDbError(msg)
            self.catalog = catalog_of(GenerateConfig(
                int(meta["categories"]), int(meta["products"]), int(meta["customers"]),
                int(meta["seed"])))
            cur.execute("SELECT sku, id FROM products")
            self.products: dict[str, int] = dict(cur.fetchall())
            cur.execute("SELECT id, country, region FROM customers ORDER BY id")
            self.customers: list[tuple[int, str, str]] = list(cur.fetchall())
            if not self.customers:
                msg = "the shop has no customers: run `shopstream db generate` first"
                raise ShopDbError(msg)
            run = int(meta.get("simulate_runs", "0")) + 1
            cur.execute("INSERT INTO shop_meta (key, value) VALUES ('simulate_runs', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(run),))
        self.tag = f"r{run}"
        self.rng = random.Random(f"shopstream-db-simulate:{config.seed}:{run}")
        # Its own stream, so the other draws stay what they were before payments came.
        self.pay_rng = random.Random(f"shopstream-db-simulate:{config.seed}:{run}:pay")
        self.payments: list[_Payment] = []  # a heap: the earliest due first
        self.counts: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.revenue = Decimal(0)
        self.now_ms = int(time.time() * 1000)

    def run(self) -> SimulateSummary:
        cfg = self.config
        started = time.monotonic()
        if cfg.live:
            minutes = cfg.minutes if cfg.minutes is not None else 25.0
            end_ms = self.now_ms + round(minutes * _MINUTE_MS)
            days = minutes / 1440
        else:
            end_ms = self.now_ms - _HISTORY_MARGIN_MS
            days = cfg.historical_days or 1.0
        sim_config = SimulationConfig(
            sessions=cfg.sessions, days=days, seed=cfg.seed, end_ms=end_ms,
            products=len(self.catalog.products), shoppers=len(self.customers))
        sim = Simulation(sim_config, catalog=self.catalog)
        origin_ms = self.now_ms

        def wait_for(at_ms: int) -> None:
            if cfg.live:
                delay = started + (at_ms - origin_ms) / 1000 / cfg.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        for batch in sim.event_batches():
            for event in batch:
                while self.payments and self.payments[0].due_ms <= event.timestamp_ms:
                    wait_for(self.payments[0].due_ms)
                    self.pay(heapq.heappop(self.payments))
                wait_for(event.timestamp_ms)
                self.apply(event)
        while self.payments:  # every pending order is paid before the run ends
            wait_for(self.payments[0].due_ms)
            self.pay(heapq.heappop(self.payments))
        return SimulateSummary(
            sessions=sim.sessions_started, actions=dict(sorted(self.actions.items())),
            cart_adds=self.counts["cart_adds"], cart_removals=self.counts["cart_removals"],
            wishlist_adds=self.counts["wishlist_adds"], orders=self.counts["orders"],
            revenue=float(self.revenue), seconds=round(time.monotonic() - started, 3),
            paid_later=self.counts["paid_later"])

    def apply(self, event: ShopperEvent) -> None:
        """Write the rows of one simulated action (nothing for views and searches)."""
        self.actions[event.event_type.value] += 1
        kind = event.event_type
        if kind not in (_ET.ADD_TO_CART, _ET.REMOVE_FROM_CART, _ET.ADD_TO_WISHLIST,
                        _ET.PURCHASE):
            return
        customer = self.customers[int(event.user_id.lstrip("U")) % len(self.customers)]
        session = f"{self.tag}-{event.session_id}"
        stamp = None if self.config.live else _as_datetime(event.timestamp_ms)
        with self.conn, self.conn.cursor() as cur:
            if kind is _ET.PURCHASE:
                self._purchase(cur, event, customer, session, stamp)
                return
            product = self.products.get(event.product_id or "")
            if product is None:  # deleted from the shop since it was generated
                return
            if kind is _ET.ADD_TO_CART:
                cur.execute(
                    "INSERT INTO carts (customer_id, session_id, product_id, quantity, "
                    "unit_price, created_at, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, coalesce(%s, now()), coalesce(%s, now())) "
                    "ON CONFLICT (session_id, product_id) DO UPDATE SET "
                    "quantity = carts.quantity + excluded.quantity, "
                    "updated_at = excluded.updated_at",
                    (customer[0], session, product, event.quantity or 1,
                     _money(event.price or 0.0), stamp, stamp))
                self.counts["cart_adds"] += 1
            elif kind is _ET.REMOVE_FROM_CART:
                self._remove(cur, session, product, event.quantity or 1, stamp)
            else:
                cur.execute(
                    "INSERT INTO wishlist (customer_id, product_id, session_id, created_at, "
                    "updated_at) VALUES (%s, %s, %s, coalesce(%s, now()), coalesce(%s, now()))"
                    " ON CONFLICT (customer_id, product_id) DO NOTHING",
                    (customer[0], product, session, stamp, stamp))
                self.counts["wishlist_adds"] += cur.rowcount

    def _remove(self, cur: Any, session: str, product: int, quantity: int,
                stamp: datetime | None) -> None:
        cur.execute("SELECT id, quantity FROM carts WHERE session_id = %s AND product_id = %s "
                    "FOR UPDATE", (session, product))
        row = cur.fetchone()
        if row is None:
            return
        if row[1] > quantity:
            cur.execute("UPDATE carts SET quantity = quantity - %s, "
                        "updated_at = coalesce(%s, now()) WHERE id = %s",
                        (quantity, stamp, row[0]))
        else:
            if stamp is not None:  # dates the removal: a delete carries no time of its own
                cur.execute("UPDATE carts SET updated_at = %s WHERE id = %s", (stamp, row[0]))
            cur.execute("DELETE FROM carts WHERE id = %s", (row[0],))
        self.counts["cart_removals"] += 1

    def _purchase(self, cur: Any, event: ShopperEvent, customer: tuple[int, str, str],
                  session: str, stamp: datetime | None) -> None:
        lines = [(self.products[i.product_id], i.quantity, _money(i.price))
                 for i in event.items or () if i.product_id in self.products]
        if not lines:
            return
        rng = self.rng
        total = sum((price * qty for _, qty, price in lines), Decimal(0))
        age_days = 0.0 if stamp is None else (self.now_ms - event.timestamp_ms) / _DAY_MS
        status, shipment_status = _lifecycle(age_days)
        later = self.pay_rng.random() < _PAID_LATER
        method = rng.choices([m for m, _ in _METHODS], weights=[w for _, w in _METHODS])[0]
        cur.execute(
            "INSERT INTO payments (method, amount, currency, status, transaction_id, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, "
            "coalesce(%s, now()), coalesce(%s, now())) RETURNING id",
            (method, total, event.currency or "USD", "authorized" if later else "captured",
             f"tx_{rng.getrandbits(96):024x}", stamp, stamp))
        payment = cur.fetchone()[0]
        carrier = rng.choice(_CARRIERS)
        shipped = None if stamp is None or age_days < 1 else _as_datetime(
            event.timestamp_ms + _DAY_MS)
        delivered = None if stamp is None or age_days < 4 else _as_datetime(
            event.timestamp_ms + 3 * _DAY_MS)
        cur.execute(
            "INSERT INTO shipments (carrier, tracking_number, status, country, region, "
            "shipped_at, delivered_at, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, "
            "%s, %s, coalesce(%s, now()), coalesce(%s, now())) RETURNING id",
            (carrier, f"{carrier.upper()}{rng.getrandbits(48):014d}",
             "pending" if later else shipment_status, customer[1], customer[2],
             None if later else shipped, None if later else delivered, stamp, stamp))
        shipment = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO orders (customer_id, session_id, order_date, total, currency, status,"
            " payment_id, shipment_id, created_at, updated_at) VALUES (%s, %s, "
            "coalesce(%s, now()), %s, %s, %s, %s, %s, coalesce(%s, now()), "
            "coalesce(%s, now())) RETURNING id",
            (customer[0], session, stamp, total, event.currency or "USD",
             "pending" if later else status, payment, shipment, stamp, stamp))
        order = cur.fetchone()[0]
        if later:
            due_ms = event.timestamp_ms + self.pay_rng.randint(*_PAY_DELAY_MS)
            heapq.heappush(self.payments, _Payment(due_ms, order, payment, shipment, status,
                                                   shipment_status, shipped, delivered))
        _extras().execute_values(
            cur, "INSERT INTO order_items (order_id, product_id, quantity, price, created_at, "
                 "updated_at) VALUES %s",
            [(order, product, qty, price, stamp or "now", stamp or "now")
             for product, qty, price in lines])
        cur.execute("DELETE FROM carts WHERE session_id = %s", (session,))
        for product, qty, _ in lines:
            cur.execute("UPDATE products SET stock = greatest(stock - %s, 0) WHERE id = %s",
                        (qty, product))
        self.counts["orders"] += 1
        self.revenue += total

    def pay(self, due: _Payment) -> None:
        """Pay an order placed pending: one transaction, as a payment provider's
        callback would commit it."""
        stamp = None if self.config.live else _as_datetime(due.due_ms)
        with self.conn, self.conn.cursor() as cur:
            cur.execute("UPDATE payments SET status = 'captured', "
                        "updated_at = coalesce(%s, now()) WHERE id = %s", (stamp, due.payment))
            cur.execute("UPDATE shipments SET status = %s, shipped_at = %s, delivered_at = %s,"
                        " updated_at = coalesce(%s, now()) WHERE id = %s",
                        (due.shipment_status, due.shipped, due.delivered, stamp, due.shipment))
            cur.execute("UPDATE orders SET status = %s, updated_at = coalesce(%s, now()) "
                        "WHERE id = %s", (due.status, stamp, due.order))
        self.counts["paid_later"] += 1


class _Payment(NamedTuple):
    """A pending order to pay at ``due_ms`` (simulated time), and what it becomes."""

    due_ms: int
    order: int
    payment: int
    shipment: int
    status: str
    shipment_status: str
    shipped: datetime | None
    delivered: datetime | None


def _extras() -> Any:
    return require("psycopg2.extras", "shopstream[postgres]")


def _lifecycle(age_days: float) -> tuple[str, str]:
    """Order and shipment status of an order placed ``age_days`` ago."""
    if age_days >= 4:
        return "delivered", "delivered"
    if age_days >= 1:
        return "shipped", "shipped"
    return "paid", "pending"


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _as_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
