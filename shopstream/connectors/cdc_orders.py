"""What change data capture remembers about orders between transactions: when an
``orders`` update is the payment, and the items of orders seen inserted unpaid.

An order inserted ``pending`` and paid by a later transaction becomes a ``PURCHASE`` at
its payment, which carries no ``order_items`` rows. :class:`UnpaidOrders` keeps the
items of such orders until they are paid, cancelled or deleted (a bounded memory: the
oldest order is forgotten first). An order whose items are not known (forgotten, edited,
or inserted before a restart) is marked as such; the CDC source then reads its items
from the database before the payment is mapped (see ``postgres_cdc``).

Examples
--------
>>> book = UnpaidOrders(max_orders=2)
>>> book.open(1, [{"id": 10, "order_id": 1}])
>>> book.add_line({"id": 11, "order_id": 1}), book.add_line({"id": 12, "order_id": 9})
(True, False)
>>> [line["id"] for line in book.lines(1) or ()]
[10, 11]
>>> book.open(2, []); book.open(3, [])
>>> 1 in book, book.forgotten
(False, 1)
>>> is_payment({"status": "paid"}, {"id": 7, "status": "pending"}, remembered=False)
True
>>> is_payment({"status": "shipped"}, {"id": 7, "status": "paid"}, remembered=False)
False
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

__all__ = ["CANCELLED", "PAID", "UnpaidOrders", "is_payment"]

#: Statuses of an order that has been paid.
PAID: Final = frozenset({"paid", "shipped", "delivered"})
#: Status of an order that will not be paid.
CANCELLED: Final = "cancelled"


def is_payment(row: dict[str, Any], old: dict[str, Any] | None, remembered: bool) -> bool:
    """Whether an ``orders`` update moves the order from unpaid to paid.

    Without the old status the update is a payment only if the order is remembered
    unpaid: a paid order's later updates (paid to shipped) must not count again, and an
    order the mapper never saw could be either.

    Parameters
    ----------
    row
        The order as the update left it.
    old
        The order before the update; it carries ``status`` only when ``orders`` has
        ``REPLICA IDENTITY FULL``.
    remembered
        Whether the order is one the mapper saw inserted unpaid and still holds.

    Examples
    --------
    >>> is_payment({"status": "delivered"}, {"id": 7}, remembered=True)
    True
    >>> is_payment({"status": "delivered"}, {"id": 7}, remembered=False)
    False
    >>> is_payment({"status": "cancelled"}, {"status": "pending"}, remembered=True)
    False
    """
    if row.get("status") not in PAID:
        return False
    if old is not None and "status" in old:
        return old["status"] not in PAID
    return remembered


class UnpaidOrders:
    """Items of unpaid orders, by order id; ``None`` items mean "read them again".

    Parameters
    ----------
    max_orders
        How many unpaid orders to hold; beyond it the oldest is forgotten (its payment
        then reads the items from the database, as after a restart).
    """

    def __init__(self, max_orders: int = 10_000) -> None:
        self.max_orders = max_orders
        self._orders: OrderedDict[Any, list[dict[str, Any]] | None] = OrderedDict()
        self.forgotten = 0

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def open(self, order_id: Any, lines: list[dict[str, Any]]) -> None:
        """Remember an unpaid order with the items known so far."""
        self._orders[order_id] = list(lines)
        self._orders.move_to_end(order_id)
        while len(self._orders) > self.max_orders:
            self._orders.popitem(last=False)
            self.forgotten += 1

    def add_line(self, line: dict[str, Any]) -> bool:
        """Add an item inserted after its order; whether the order is remembered."""
        order_id = line.get("order_id")
        if order_id not in self._orders:
            return False
        lines = self._orders[order_id]
        if lines is not None:
            lines.append(line)
        return True

    def edit_line(self, line: dict[str, Any]) -> None:
        """An item was updated or deleted: its order's items must be read again.

        A delete may carry only the item's id (no ``REPLICA IDENTITY FULL`` on
        ``order_items``); then every remembered order holding that item is marked.
        """
        order_id = line.get("order_id")
        if order_id is not None:
            if order_id in self._orders:
                self._orders[order_id] = None
            return
        for key, lines in self._orders.items():
            if lines is not None and any(x.get("id") == line.get("id") for x in lines):
                self._orders[key] = None

    def lines(self, order_id: Any) -> list[dict[str, Any]] | None:
        """The known items of a remembered order (``None``: unknown or not remembered)."""
        return self._orders.get(order_id)

    def forget(self, order_id: Any) -> None:
        """Drop an order (paid, cancelled or deleted)."""
        self._orders.pop(order_id, None)
