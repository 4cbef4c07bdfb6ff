"""The baskets of a sliding window, as integer codes, with each item's set of baskets.

Items are coded as small integers (a code is reused only after :meth:`release_codes`,
once its item has left the window); each item keeps the set of the window's baskets that
hold it (its tid-list), so the count of any itemset is one intersection of tid-lists.
Baskets are kept in arrival order and by content, so the oldest basket, or the oldest one
with given items, leaves in O(basket size). Memory is bounded by the window: one entry
per basket and per (basket, item).

:class:`~shopstream.mining.tracker.ItemsetTracker` builds its candidate counts on top,
through the :meth:`BasketWindow._added` and :meth:`BasketWindow._removed` hooks.

Examples
--------
>>> window = BasketWindow()
>>> window.add(["milk", "bread", "eggs"])
>>> window.add(["milk", "bread"])
>>> window.count(["bread", "milk"]), window.count(["eggs"]), window.count(["tea"])
(2, 1, 0)
>>> window.remove(["bread", "milk"])
>>> window.evict_oldest()
('bread', 'eggs', 'milk')
>>> window.basket_count, window.evict_oldest()
(0, None)
>>> sorted(window.release_codes())   # milk, bread and eggs left: their codes are free
[0, 1, 2]
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from itertools import chain

from shopstream.mining.errors import UnknownBasketError

__all__ = ["BasketWindow", "Codes"]

Codes = tuple[int, ...]


class BasketWindow:
    """Baskets of a window, coded, with the tid-list of every item in it."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.tids: list[set[int]] = []
        self._free: list[int] = []
        self._released: list[int] = []
        self._baskets: dict[int, Codes] = {}
        self._order: deque[int] = deque()
        self._by_content: dict[Codes, deque[int]] = {}
        self._next_id = 0

    @property
    def basket_count(self) -> int:
        """Number of baskets in the window."""
        return len(self._baskets)

    def baskets(self) -> Iterator[tuple[str, ...]]:
        """The window's baskets, oldest first, each as its items sorted."""
        names = self.names
        for basket_id in self._order:
            yield tuple(sorted(names[i] for i in self._baskets[basket_id]))

    def add(self, items: Iterable[str]) -> None:
        """Put one basket (duplicates count once) into the window."""
        basket = tuple(sorted({self._encode(item) for item in items}))
        basket_id = self._next_id
        self._next_id += 1
        self._baskets[basket_id] = basket
        self._order.append(basket_id)
        self._by_content.setdefault(basket, deque()).append(basket_id)
        tids = self.tids
        for code in basket:
            tids[code].add(basket_id)
        self._added(basket)

    def remove(self, items: Iterable[str]) -> None:
        """Take out the oldest basket in the window with exactly these items.

        Raises
        ------
        UnknownBasketError
            No basket in the window has exactly these items.
        """
        wanted = set(items)
        codes = self.codes
        if all(item in codes for item in wanted):
            basket = tuple(sorted(codes[item] for item in wanted))
            ids = self._by_content.get(basket)
            if ids:
                self._drop(ids[0])
                return
        msg = f"no basket with items {sorted(wanted)!r} is in the window"
        raise UnknownBasketError(msg)

    def evict_oldest(self) -> tuple[str, ...] | None:
        """Take out the oldest basket; return its sorted items (``None`` if empty)."""
        if not self._order:
            return None
        basket_id = self._order[0]
        names = self.names
        items = tuple(sorted(names[i] for i in self._baskets[basket_id]))
        self._drop(basket_id)
        return items

    def count(self, items: Iterable[str]) -> int:
        """Exact number of baskets in the window holding every item of ``items``."""
        codes = [self.codes.get(item) for item in set(items)]
        if not codes:
            return self.basket_count
        if any(code is None for code in codes):
            return 0
        sets = sorted((self.tids[code] for code in codes if code is not None), key=len)
        return len(sets[0].intersection(*sets[1:]))

    def encode_known(self, items: Iterable[str]) -> Codes | None:
        """The sorted codes of ``items``, or ``None`` if one of them is not in the window."""
        codes = self.codes
        wanted = set(items)
        if not wanted or not all(item in codes for item in wanted):
            return None
        return tuple(sorted(codes[item] for item in wanted))

    def item_count(self, code: int) -> int:
        """Count of the item with this code."""
        return len(self.tids[code])

    def release_codes(self) -> list[int]:
        """Make the codes of items that left the window reusable; return them."""
        freed = []
        for code in self._released:
            name = self.names[code]
            # A code can be listed twice (its item left, came back and left again).
            if not self.tids[code] and self.codes.get(name) == code:
                del self.codes[name]
                self._free.append(code)
                freed.append(code)
        self._released.clear()
        return freed

    # -- hooks for what is built on the window ----------------------------------------

    def _added(self, basket: Codes) -> None:
        """Called once ``basket`` is in the window (the tid-lists hold it)."""

    def _removed(self, basket: Codes) -> None:
        """Called once ``basket`` has left the window (the tid-lists no longer hold it)."""

    # -- bookkeeping -------------------------------------------------------------------

    def _encode(self, item: str) -> int:
        code = self.codes.get(item)
        if code is None:
            if self._free:
                code = self._free.pop()
                self.names[code] = item
            else:
                code = len(self.names)
                self.names.append(item)
                self.tids.append(set())
            self.codes[item] = code
        return code

    def _drop(self, basket_id: int) -> None:
        basket = self._baskets.pop(basket_id)
        if self._order[0] == basket_id:
            self._order.popleft()
        else:
            self._order.remove(basket_id)
        ids = self._by_content[basket]
        ids.remove(basket_id)
        if not ids:
            del self._by_content[basket]
        tids = self.tids
        for code in basket:
            holders = tids[code]
            holders.discard(basket_id)
            if not holders:
                self._released.append(code)
        self._removed(basket)

    def _holders(self, itemset: Codes) -> list[Codes]:
        """The baskets of the window that hold every item of ``itemset``."""
        tids, baskets = self.tids, self._baskets
        if len(itemset) == 1:
            return [baskets[basket_id] for basket_id in tids[itemset[0]]]
        sets = sorted((tids[code] for code in itemset), key=len)
        return [baskets[basket_id] for basket_id in sets[0].intersection(*sets[1:])]

    def _co_items(self, itemset: Codes) -> Counter[int]:
        """How many baskets of the window hold ``itemset`` together with each other item."""
        holders = Counter(chain.from_iterable(self._holders(itemset)))
        for code in itemset:
            del holders[code]
        return holders
