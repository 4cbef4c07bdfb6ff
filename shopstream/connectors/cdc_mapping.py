"""From committed row changes of the shop database to canonical shopper events.

Pure: no I/O, no clock. :class:`ChangeMapper` turns one committed transaction (read by
:mod:`shopstream.connectors.wal2json`) into events. The mapper keeps small lookup tables
(product names, prices and categories; customers' country, region and device) that it
updates from the changes it sees, so events carry names though order and cart rows hold
only ids.

==============================  ==================================================
change                          event
==============================  ==================================================
``orders`` insert               ``PURCHASE`` with ``orderId``, ``cartTotal`` (the
                                order's ``total``) and ``items`` from the
                                ``order_items`` rows inserted in the same
                                transaction; ``eventId`` ``pg-order-{id}``; only
                                for a paid order (``paid``, ``shipped``,
                                ``delivered``) with at least one item
``carts`` insert                ``ADD_TO_CART`` (``quantity``, ``price`` = unit price)
``carts`` update                ``ADD_TO_CART`` / ``REMOVE_FROM_CART`` of the
                                quantity difference
``carts`` delete                ``REMOVE_FROM_CART`` of the whole line, except when
                                the same transaction places an order of that
                                session (checkout empties the cart)
``wishlist`` insert             ``ADD_TO_WISHLIST``
``products``, ``categories``,   no event: they update the lookup tables (there is
``customers`` any change        no canonical event for catalog or account edits)
``orders`` update / delete,     no event (order status changes and corrections have
``order_items`` alone, others   no canonical event; an order inserted ``pending``
                                and paid by a later update is therefore not a
                                ``PURCHASE``)
==============================  ==================================================

Ids: ``productId`` is ``products.id``, ``userId`` is ``customers.id``, ``sessionId`` the
row's ``session_id`` (``pg-customer-{id}`` when it has none). Timestamps: a row's
``order_date`` / ``updated_at``; a deleted row's is the transaction's commit time, or the
``updated_at`` the same transaction stamped on the row just before deleting it (how a
history backfill dates a removal).

Examples
--------
>>> tx = parse_wal2json(b'{"xid":7,"nextlsn":"0/16B3748","timestamp":'
...     b'"2026-01-01 10:00:00+00","change":[{"kind":"insert","schema":"public",'
...     b'"table":"carts","columnnames":["id","customer_id","session_id","product_id",'
...     b'"quantity","unit_price","updated_at"],"columnvalues":[5,3,"s1",12,2,9.99,'
...     b'"2026-01-01 09:59:59.5+00"]}]}')
>>> tx.end_lsn, tx.commit_ms
(23803720, 1767261600000)
>>> [(e.event_type.value, e.product_id, e.quantity, e.price) for e in ChangeMapper().map(tx)]
[('ADD_TO_CART', '12', 2, 9.99)]
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from shopstream.connectors.wal2json import RowChange, Transaction, parse_wal2json
from shopstream.events.model import EventType, Item, ShopperEvent, parse_timestamp_ms

__all__ = ["CDC_TABLES", "ChangeMapper", "CustomerInfo", "ProductInfo", "RowChange",
           "Transaction", "parse_wal2json"]

#: The tables change data capture reads.
CDC_TABLES = ("orders", "order_items", "carts", "wishlist", "customers", "products",
              "categories")
_ET = EventType
_PAID = frozenset({"paid", "shipped", "delivered"})


class ProductInfo(NamedTuple):
    """What events need to know about a product."""

    name: str
    category_id: int | None
    price: float


class CustomerInfo(NamedTuple):
    """What events need to know about a customer."""

    country: str | None
    region: str | None
    device: str | None
    platform: str | None


def _ms(value: Any) -> int:
    return parse_timestamp_ms(str(value))


class ChangeMapper:
    """Maps transactions to events; see the module documentation for the table.

    ``products``, ``categories`` and ``customers`` are the lookup tables; a source seeds
    them from the database when it starts.
    """

    def __init__(self) -> None:
        self.products: dict[int, ProductInfo] = {}
        self.categories: dict[int, str] = {}
        self.customers: dict[int, CustomerInfo] = {}
        self.orphan_items = 0
        self.skipped_orders = 0

    def map(self, tx: Transaction) -> list[ShopperEvent]:
        """The events of one committed transaction, in change order."""
        items: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        checkout_sessions: set[Any] = set()
        order_ids: set[Any] = set()
        stamped: dict[Any, Any] = {}
        for change in tx.changes:
            self._learn(change)
            if change.kind == "update" and change.table == "carts":
                stamped[change.row.get("id")] = change.row.get("updated_at")
            if change.kind == "insert" and change.table == "order_items":
                items[change.row.get("order_id")].append(change.row)
            elif change.kind == "insert" and change.table == "orders":
                order_ids.add(change.row.get("id"))
                checkout_sessions.add(change.row.get("session_id"))
        self.orphan_items += sum(len(v) for k, v in items.items() if k not in order_ids)
        out: list[ShopperEvent] = []
        seen: dict[Any, int] = defaultdict(int)
        for change in tx.changes:
            table, kind, row = change.table, change.kind, change.row
            if table == "orders" and kind == "insert":
                lines = items.get(row.get("id"))
                if lines and row.get("status") in _PAID:
                    out.append(self._purchase(row, lines))
                else:
                    self.skipped_orders += 1
            elif table == "carts":
                n = seen[row.get("id")]
                seen[row.get("id")] += 1
                event = self._cart(change, tx, checkout_sessions, n, stamped)
                if event is not None:
                    out.append(event)
            elif table == "wishlist" and kind == "insert":
                out.append(self._event(_ET.ADD_TO_WISHLIST, row, f"pg-wish-{row.get('id')}",
                                       _ms(row.get("created_at") or tx.commit_ms)))
        return out

    def _learn(self, change: RowChange) -> None:
        table, row = change.table, change.row
        key = row.get("id")
        if not isinstance(key, int):
            return
        if change.kind == "delete":
            if table == "products":
                self.products.pop(key, None)
            elif table == "categories":
                self.categories.pop(key, None)
            elif table == "customers":
                self.customers.pop(key, None)
            return
        if table == "products":
            self.products[key] = ProductInfo(str(row.get("name", "")), row.get("category_id"),
                                             _money(row.get("price")))
        elif table == "categories":
            self.categories[key] = str(row.get("name", ""))
        elif table == "customers":
            self.customers[key] = CustomerInfo(row.get("country"), row.get("region"),
                                               row.get("device"), row.get("platform"))

    def _purchase(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> ShopperEvent:
        order_id = row.get("id")
        items = []
        for line in lines:
            product = self._product(line.get("product_id"))
            items.append(Item(str(line.get("product_id")),
                              product.name if product else None,
                              self._category(product),
                              _money(line.get("price")), int(line.get("quantity") or 1)))
        customer = self.customers.get(row.get("customer_id"))  # type: ignore[arg-type]
        return ShopperEvent(
            event_type=_ET.PURCHASE,
            timestamp_ms=_ms(row.get("order_date")),
            session_id=self._session(row),
            event_id=f"pg-order-{order_id}",
            user_id=str(row.get("customer_id")),
            quantity=sum(i.quantity for i in items),
            currency=str(row.get("currency") or "USD").strip(),
            order_id=str(order_id),
            cart_total=_money(row.get("total")),
            items=tuple(items),
            device=customer.device if customer else None,
            platform=customer.platform if customer else None,
            country=str(customer.country).strip() if customer and customer.country else None,
            region=customer.region if customer else None,
        )

    def _cart(self, change: RowChange, tx: Transaction, checkout_sessions: set[Any],
              n: int, stamped: dict[Any, Any]) -> ShopperEvent | None:
        row, kind = change.row, change.kind
        event_id = f"pg-cart-{row.get('id')}-x{tx.xid}" + (f"-{n}" if n else "")
        if kind == "insert":
            return self._event(_ET.ADD_TO_CART, row, event_id, _ms(row.get("updated_at")
                                                                   or tx.commit_ms),
                               int(row.get("quantity") or 1))
        if kind == "delete":
            if row.get("session_id") in checkout_sessions:
                return None
            when = stamped.get(row.get("id"))
            return self._event(_ET.REMOVE_FROM_CART, row, event_id,
                               _ms(when) if when else tx.commit_ms,
                               int(row.get("quantity") or 1))
        if change.old is None or "quantity" not in change.old:
            return None  # without REPLICA IDENTITY FULL the difference is unknown
        delta = int(row.get("quantity") or 0) - int(change.old["quantity"] or 0)
        if delta == 0:
            return None
        kind_ = _ET.ADD_TO_CART if delta > 0 else _ET.REMOVE_FROM_CART
        return self._event(kind_, row, event_id, _ms(row.get("updated_at") or tx.commit_ms),
                           abs(delta))

    def _event(self, kind: EventType, row: dict[str, Any], event_id: str, ts: int,
               quantity: int | None = None) -> ShopperEvent:
        product = self._product(row.get("product_id"))
        price = row.get("unit_price")
        customer = self.customers.get(row.get("customer_id"))  # type: ignore[arg-type]
        return ShopperEvent(
            event_type=kind,
            timestamp_ms=ts,
            session_id=self._session(row),
            event_id=event_id,
            user_id=str(row.get("customer_id")),
            product_id=str(row.get("product_id")),
            product_name=product.name if product else None,
            category=self._category(product),
            price=_money(price) if price is not None else (product.price if product else None),
            quantity=quantity,
            device=customer.device if customer else None,
            platform=customer.platform if customer else None,
            country=str(customer.country).strip() if customer and customer.country else None,
            region=customer.region if customer else None,
        )

    def _product(self, product_id: Any) -> ProductInfo | None:
        return self.products.get(product_id) if isinstance(product_id, int) else None

    def _category(self, product: ProductInfo | None) -> str | None:
        if product is None or product.category_id is None:
            return None
        return self.categories.get(product.category_id)

    @staticmethod
    def _session(row: dict[str, Any]) -> str:
        session = row.get("session_id")
        return str(session) if session else f"pg-customer-{row.get('customer_id')}"


def _money(value: Any) -> float:
    """A NUMERIC as wal2json sends it (a JSON number; a string if so configured)."""
    if value is None:
        return 0.0
    return round(float(value), 2)
