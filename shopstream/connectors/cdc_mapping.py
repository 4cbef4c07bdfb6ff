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
                                transaction; ``eventId`` ``pg-order-{id}``, time
                                ``order_date``; only for a paid order (``paid``,
                                ``shipped``, ``delivered``) with at least one item.
                                An unpaid order (``pending``) is remembered with
                                its items, no event
``orders`` update that pays     ``PURCHASE`` as above (same ``eventId``), time the
the order (status from unpaid   row's ``updated_at`` (else the commit time), items
to ``paid`` / ``shipped`` /     the remembered ones, or, when the mapper holds
``delivered``)                  none (a restart, a forgotten or edited order), the
                                rows the source reads from the database
                                (:meth:`ChangeMapper.missing_items`)
``orders`` update between paid  no event (``paid`` to ``shipped`` is not a second
statuses, or to ``cancelled``;  purchase); a cancelled or deleted order's
``orders`` delete               remembered items are dropped
``order_items`` insert after    joins a remembered unpaid order's items; an
its order                       item of any other order: no event (counted)
``order_items`` update, delete  no event; a remembered order's items are read
                                again from the database at its payment
``carts`` insert                ``ADD_TO_CART`` (``quantity``, ``price`` = unit price)
``carts`` update                ``ADD_TO_CART`` / ``REMOVE_FROM_CART`` of the
                                quantity difference
``carts`` delete                ``REMOVE_FROM_CART`` of the whole line, except when
                                the same transaction places an order of that
                                session (checkout empties the cart)
``wishlist`` insert             ``ADD_TO_WISHLIST``
``products`` insert, update,    ``PRODUCT_CHANGE`` (``productId``, name, category,
delete                          price, ``brand`` when the table has that column;
                                ``quantity`` = ``stock``, 0 when inactive or
                                deleted), ``eventId`` ``pg-product-{id}-x{xid}``;
                                also updates the lookup table
``customers`` insert, update    ``CUSTOMER_CHANGE`` (``userId``, ``country``,
                                ``region``, ``device``, ``platform``); also updates
                                the lookup table. A delete: no event
``categories`` any change       no event: updates the lookup table
``payments``, ``shipments``,    no event
other changes
==============================  ==================================================

Which update pays an order: the old row's status is unpaid and the new one paid. The
old row comes with ``REPLICA IDENTITY FULL`` on ``orders`` (``shopstream db init``
sets it, on existing databases too). Without it (a database created before), an update
to a paid status is a payment only for an order the mapper remembers unpaid (it saw
the insert since it started, see :func:`~shopstream.connectors.cdc_orders.is_payment`);
such orders inserted before a restart are then not emitted when paid after it.

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
from typing import Any

from shopstream.connectors.cdc_lookup import CatalogLookup, CustomerInfo, ProductInfo
from shopstream.connectors.cdc_orders import CANCELLED, PAID, UnpaidOrders, is_payment
from shopstream.connectors.cdc_values import BAD_VALUE, MappingRefusal, money, refusal
from shopstream.connectors.cdc_values import row_ms as _ms
from shopstream.connectors.wal2json import RowChange, Transaction, parse_wal2json
from shopstream.events.model import EventType, Item, ShopperEvent

# The lookup tables and the refusal live in cdc_lookup.py and cdc_values.py; they are
# re-exported here, where the source and the tests import them from.
__all__ = ["CDC_TABLES", "ChangeMapper", "CustomerInfo", "MappingRefusal", "ProductInfo",
           "RowChange", "Transaction", "parse_wal2json"]

#: The tables change data capture reads.
CDC_TABLES = ("orders", "order_items", "carts", "wishlist", "customers", "products",
              "categories")
_ET = EventType
#: The session and user of catalog and account changes (they belong to no shopper).
_CATALOG = "pg-catalog"


class ChangeMapper:
    """Maps transactions to events; see the module documentation for the table.

    ``products``, ``categories`` and ``customers`` are the lookup tables; a source seeds
    them from the database when it starts.
    """

    def __init__(self) -> None:
        self.lookup = CatalogLookup()
        self.unpaid = UnpaidOrders()
        self._supplied: dict[Any, list[dict[str, Any]]] = {}
        self.orphan_items = 0
        self.skipped_orders = 0

    @property
    def products(self) -> dict[int, ProductInfo]:
        """Products by id (the lookup table; a source seeds it)."""
        return self.lookup.products

    @property
    def categories(self) -> dict[int, str]:
        """Category names by id (the lookup table; a source seeds it)."""
        return self.lookup.categories

    @property
    def customers(self) -> dict[int, CustomerInfo]:
        """Customers by id (the lookup table; a source seeds it)."""
        return self.lookup.customers

    def map(self, tx: Transaction) -> list[ShopperEvent | MappingRefusal]:
        """The events of one committed transaction, in change order; a change whose values
        cannot be mapped gives a :class:`MappingRefusal` in its place (values that map but
        break an input limit are refused by the runner's decoder, as at every door)."""
        items: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        checkout_sessions: set[Any] = set()
        order_ids: set[Any] = set()
        stamped: dict[Any, Any] = {}
        unusable: dict[int, MappingRefusal] = {}
        for change in tx.changes:
            try:
                self.lookup.learn(change)
            except BAD_VALUE as exc:
                unusable[id(change)] = refusal(change, exc)
            if change.kind == "update" and change.table == "carts":
                stamped[change.row.get("id")] = change.row.get("updated_at")
            if change.kind == "insert" and change.table == "order_items":
                items[change.row.get("order_id")].append(change.row)
            elif change.table == "order_items":
                self.unpaid.edit_line(change.row)
            elif change.kind == "insert" and change.table == "orders":
                order_ids.add(change.row.get("id"))
                checkout_sessions.add(change.row.get("session_id"))
        for order_id, lines in items.items():
            if order_id not in order_ids:
                self.orphan_items += sum(not self.unpaid.add_line(line) for line in lines)
        out: list[ShopperEvent | MappingRefusal] = []
        seen: dict[Any, int] = defaultdict(int)
        for change in tx.changes:
            refused = unusable.get(id(change))
            if refused is not None:
                out.append(refused)
                continue
            try:
                event = self._change(change, tx, items, checkout_sessions, stamped, seen)
            except BAD_VALUE as exc:
                out.append(refusal(change, exc))
                continue
            if event is not None:
                out.append(event)
        self._supplied.clear()
        return out

    def _change(self, change: RowChange, tx: Transaction,
                items: dict[Any, list[dict[str, Any]]], checkout_sessions: set[Any],
                stamped: dict[Any, Any], seen: dict[Any, int]) -> ShopperEvent | None:
        table, kind, row = change.table, change.kind, change.row
        if table == "orders":
            return self._order(change, items, tx)
        if table == "carts":
            n = seen[row.get("id")]
            seen[row.get("id")] += 1
            return self._cart(change, tx, checkout_sessions, n, stamped)
        if table == "wishlist" and kind == "insert":
            return self._event(_ET.ADD_TO_WISHLIST, row, f"pg-wish-{row.get('id')}",
                               _ms(row.get("created_at") or tx.commit_ms))
        if table in ("products", "customers"):
            n = seen[(table, row.get("id"))]
            seen[(table, row.get("id"))] += 1
            return self._catalog(change, tx, n)
        return None

    def missing_items(self, tx: Transaction) -> list[Any]:
        """Ids of the orders ``tx`` pays whose items the mapper does not hold.

        The caller reads their ``order_items`` rows and hands them to
        :meth:`supply_items` before :meth:`map`; otherwise such a payment is counted in
        ``skipped_orders``, not emitted.
        """
        inserted: set[Any] = set()
        wanted: list[Any] = []
        for change in tx.changes:
            if change.table != "orders":
                continue
            order_id = change.row.get("id")
            if change.kind == "insert":
                inserted.add(order_id)
            elif (change.kind == "update" and order_id not in inserted
                  and not self.unpaid.lines(order_id)
                  and is_payment(change.row, change.old, order_id in self.unpaid)):
                wanted.append(order_id)
        return wanted

    def supply_items(self, order_id: Any, lines: list[dict[str, Any]]) -> None:
        """The ``order_items`` rows of an order :meth:`missing_items` asked for, as the
        database holds them now; used by the next :meth:`map` only."""
        self._supplied[order_id] = list(lines)

    def _order(self, change: RowChange, items: dict[Any, list[dict[str, Any]]],
               tx: Transaction) -> ShopperEvent | None:
        row, order_id, status = change.row, change.row.get("id"), change.row.get("status")
        if change.kind == "insert":
            lines = items.get(order_id)
            if lines and status in PAID:
                return self._purchase(row, lines, _ms(row.get("order_date")))
            self.skipped_orders += 1
            if status not in PAID and status != CANCELLED:
                self.unpaid.open(order_id, lines or [])
            return None
        if change.kind == "delete":
            self.unpaid.forget(order_id)
            return None
        remembered = order_id in self.unpaid or order_id in self._supplied
        if is_payment(row, change.old, remembered):
            lines = self._supplied.pop(order_id, None) or self.unpaid.lines(order_id)
            self.unpaid.forget(order_id)
            if lines:
                when = row.get("updated_at")
                return self._purchase(row, lines, _ms(when) if when else tx.commit_ms)
            self.skipped_orders += 1
        elif status == CANCELLED or status in PAID:
            self.unpaid.forget(order_id)
        return None

    def _purchase(self, row: dict[str, Any], lines: list[dict[str, Any]],
                  timestamp_ms: int) -> ShopperEvent:
        order_id = row.get("id")
        items = []
        for line in lines:
            product = self.lookup.product(line.get("product_id"))
            items.append(Item(str(line.get("product_id")),
                              product.name if product else None,
                              self.lookup.category(product),
                              money(line.get("price")), int(line.get("quantity") or 1),
                              product.brand if product else None))
        customer = self.lookup.customer(row.get("customer_id"))
        return ShopperEvent(
            event_type=_ET.PURCHASE,
            timestamp_ms=timestamp_ms,
            session_id=self._session(row),
            event_id=f"pg-order-{order_id}",
            user_id=str(row.get("customer_id")),
            quantity=sum(i.quantity for i in items),
            currency=str(row.get("currency") or "USD").strip(),
            order_id=str(order_id),
            cart_total=money(row.get("total")),
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

    def _catalog(self, change: RowChange, tx: Transaction, n: int) -> ShopperEvent | None:
        """``PRODUCT_CHANGE`` / ``CUSTOMER_CHANGE`` for a product or customer row."""
        row, kind = change.row, change.kind
        key = row.get("id")
        ts = _ms(row.get("updated_at") or tx.commit_ms) if kind != "delete" else tx.commit_ms
        suffix = f"-x{tx.xid}" + (f"-{n}" if n else "")
        if change.table == "customers":
            if kind == "delete":
                return None  # the account is gone: nothing a shopper event could say
            return ShopperEvent(
                event_type=_ET.CUSTOMER_CHANGE, timestamp_ms=ts, session_id=_CATALOG,
                event_id=f"pg-customer-{key}{suffix}", user_id=str(key),
                country=str(row.get("country") or "").strip() or None,
                region=row.get("region"), device=row.get("device"),
                platform=row.get("platform"))
        product = None if kind == "delete" else self.lookup.product(key)
        stock = 0 if kind == "delete" or not row.get("active", True) else int(
            row.get("stock") or 0)
        return ShopperEvent(
            event_type=_ET.PRODUCT_CHANGE, timestamp_ms=ts, session_id=_CATALOG,
            event_id=f"pg-product-{key}{suffix}", user_id=_CATALOG, product_id=str(key),
            product_name=product.name if product else None, category=self.lookup.category(product),
            price=product.price if product else None, quantity=stock,
            brand=product.brand if product else None)

    def _event(self, kind: EventType, row: dict[str, Any], event_id: str, ts: int,
               quantity: int | None = None) -> ShopperEvent:
        product = self.lookup.product(row.get("product_id"))
        price = row.get("unit_price")
        if price is None and "unit_price" in row:
            # NOT NULL in the schema: wal2json sends a numeric NaN or Infinity as null.
            msg = "unit_price is null (a numeric NaN or Infinity in the database)"
            raise ValueError(msg)
        customer = self.lookup.customer(row.get("customer_id"))
        return ShopperEvent(
            event_type=kind,
            timestamp_ms=ts,
            session_id=self._session(row),
            event_id=event_id,
            user_id=str(row.get("customer_id")),
            product_id=str(row.get("product_id")),
            product_name=product.name if product else None,
            category=self.lookup.category(product),
            price=money(price) if price is not None else (product.price if product else None),
            quantity=quantity,
            device=customer.device if customer else None,
            platform=customer.platform if customer else None,
            country=str(customer.country).strip() if customer and customer.country else None,
            region=customer.region if customer else None,
            brand=product.brand if product else None,
        )

    @staticmethod
    def _session(row: dict[str, Any]) -> str:
        session = row.get("session_id")
        return str(session) if session else f"pg-customer-{row.get('customer_id')}"

