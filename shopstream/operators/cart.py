"""The cart of one session: one model and one set of rules for every operator that keeps one.

The basket tracker, cart abandonment and the recommendation operator each follow the
shopper's cart; they all apply events through :class:`Cart` so that they never disagree
on what is in it. The rules:

* ``ADD_TO_CART`` adds ``quantity`` units, or 1 when the event has no quantity (or 0), at
  the event's price; the line keeps the latest price, name and category it was given;
* ``REMOVE_FROM_CART`` removes ``quantity`` units, and a remove without a quantity removes
  the whole line, as a shop's "remove" button does; removing more units than the line
  holds removes the line, and a line at 0 units disappears;
* ``PURCHASE`` empties the cart;
* every other event, and an add or a remove without a product, leaves it as it is.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> def e(kind, pid=None, **kw):
...     return ShopperEvent(EventType[kind], 0, "s1", product_id=pid, **kw)
>>> cart = Cart()
>>> cart.apply(e("ADD_TO_CART", "mug", price=8.0, quantity=3))
True
>>> cart.apply(e("ADD_TO_CART", "tea", price=4.5))
True
>>> cart.apply(e("REMOVE_FROM_CART", "mug", quantity=1))
True
>>> sorted(cart.products()), cart.quantity("mug"), cart.value()
(['mug', 'tea'], 2, 20.5)
>>> cart.apply(e("REMOVE_FROM_CART", "tea"))  # no quantity: the whole line
True
>>> cart.apply(e("REMOVE_FROM_CART", "tea"))  # nothing left to remove
False
>>> "tea" in cart, len(cart)
(False, 1)
>>> cart.apply(e("PURCHASE"))
True
>>> cart.sorted_lines()
()
"""

from __future__ import annotations

from collections.abc import KeysView

import msgspec

from shopstream.events.model import EventType, ShopperEvent
from shopstream.events.records import BasketLine

__all__ = ["Cart", "added_units"]

# Enum member lookups cost ~100 ns each on CPython 3.11; apply runs on every cart event.
_ADD = EventType.ADD_TO_CART
_REMOVE = EventType.REMOVE_FROM_CART
_PURCHASE = EventType.PURCHASE


def added_units(event: ShopperEvent) -> int:
    """How many units an ``ADD_TO_CART`` puts in the cart: its quantity, else 1.

    Examples
    --------
    >>> from shopstream.events import EventType, ShopperEvent
    >>> [added_units(ShopperEvent(EventType.ADD_TO_CART, 0, "s", quantity=q))
    ...  for q in (None, 0, 3)]
    [1, 1, 3]
    """
    return event.quantity or 1


class Cart(msgspec.Struct, gc=False):
    """The lines of one cart, by product id; change it only through :meth:`apply`.

    A plain struct of plain data (``gc=False``: it holds no reference cycles), so an
    operator keeps it inside its own state value and a runner snapshots it with that.
    """

    lines: dict[str, BasketLine] = msgspec.field(default_factory=dict)

    def apply(self, event: ShopperEvent) -> bool:
        """Apply one event by the rules of this module; ``True`` when the cart changed.

        Examples
        --------
        >>> from shopstream.events import EventType, ShopperEvent
        >>> cart = Cart()
        >>> cart.apply(ShopperEvent(EventType.ADD_TO_CART, 0, "s", product_id="p",
        ...                         product_name="Pen", price=2.0, quantity=2))
        True
        >>> cart.apply(ShopperEvent(EventType.ADD_TO_CART, 1, "s", product_id="p", price=1.5))
        True
        >>> cart.lines["p"]
        BasketLine(product_id='p', product_name='Pen', category=None, price=1.5, quantity=3)
        >>> cart.apply(ShopperEvent(EventType.REMOVE_FROM_CART, 2, "s", product_id="p",
        ...                         quantity=5))
        True
        >>> cart.apply(ShopperEvent(EventType.VIEW_PRODUCT, 3, "s", product_id="p"))
        False
        >>> len(cart)
        0
        """
        kind = event.event_type
        if kind is _ADD:
            pid = event.product_id
            if pid is None:
                return False
            lines = self.lines
            line = lines.get(pid)
            price = event.price
            if line is None:
                lines[pid] = BasketLine(pid, event.product_name, event.category,
                                        price or 0.0, added_units(event))
            else:
                lines[pid] = BasketLine(pid, event.product_name or line.product_name,
                                        event.category or line.category,
                                        line.price if price is None else price,
                                        line.quantity + added_units(event))
            return True
        if kind is _REMOVE:
            pid = event.product_id
            line = self.lines.get(pid) if pid is not None else None
            if line is None:
                return False
            qty = event.quantity
            if qty is None or qty >= line.quantity:
                del self.lines[line.product_id]
                return True
            if not qty:
                return False
            self.lines[line.product_id] = msgspec.structs.replace(
                line, quantity=line.quantity - qty)
            return True
        if kind is _PURCHASE and self.lines:
            self.lines.clear()
            return True
        return False

    def products(self) -> KeysView[str]:
        """The ids of the products in the cart (a live, set-like view)."""
        return self.lines.keys()

    def quantity(self, product_id: str) -> int:
        """Units of ``product_id`` in the cart (0 when it is not in it)."""
        line = self.lines.get(product_id)
        return 0 if line is None else line.quantity

    def sorted_lines(self) -> tuple[BasketLine, ...]:
        """The lines in product-id order, as records list them."""
        return tuple(line for _, line in sorted(self.lines.items()))

    def value(self) -> float:
        """The sum of price x quantity over the lines, rounded to cents."""
        return round(sum(line.price * line.quantity for line in self.lines.values()), 2)

    def __contains__(self, product_id: object) -> bool:
        return product_id in self.lines

    def __len__(self) -> int:
        """How many lines (distinct products) the cart holds."""
        return len(self.lines)
