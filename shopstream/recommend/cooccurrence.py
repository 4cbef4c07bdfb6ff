"""Symmetric co-occurrence counts with a cached top list per product.

Popular products co-occur with thousands of others; a request only needs each product's
strongest partners. :meth:`CoCounts.top` returns the ``n`` largest counts of a row from a
cache rebuilt once the row changed by a tenth since (or 16 updates, whichever is more),
so a request walks ``n`` entries per product instead of the whole row.

Examples
--------
>>> co = CoCounts()
>>> co.add_group(["a", "b", "c"])
>>> co.add_group(["a", "b"])
>>> co.top("a", 5), co.uses["a"]
([('b', 2), ('c', 1)], 2)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CoCounts"]


class CoCounts:
    """Pair counts (both directions) and per-product use counts."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, int]] = {}
        self.uses: dict[str, int] = {}
        self._dirty: dict[str, int] = {}
        self._top: dict[str, list[tuple[str, int]]] = {}

    def add_group(self, items: Sequence[str]) -> None:
        """Count every pair of the distinct ``items`` once, and each item's use."""
        for product in items:
            self.uses[product] = self.uses.get(product, 0) + 1
            row = self.rows.setdefault(product, {})
            for other in items:
                if other != product:
                    row[other] = row.get(other, 0) + 1
            self._dirty[product] = self._dirty.get(product, 0) + 1

    def add_one(self, product: str, partners: Sequence[str]) -> None:
        """Count ``product`` once and its pair with each of ``partners`` (both ways)."""
        self.uses[product] = self.uses.get(product, 0) + 1
        rows, dirty = self.rows, self._dirty
        row = rows.setdefault(product, {})
        for other in partners:
            row[other] = row.get(other, 0) + 1
            other_row = rows.setdefault(other, {})
            other_row[product] = other_row.get(product, 0) + 1
            dirty[other] = dirty.get(other, 0) + 1
        dirty[product] = dirty.get(product, 0) + 1

    def top(self, product: str, n: int) -> list[tuple[str, int]]:
        """The ``n`` strongest partners of ``product`` (count descending, then id)."""
        row = self.rows.get(product)
        if not row:
            return []
        cached = self._top.get(product)
        if cached is None or self._dirty.get(product, 0) > max(16, len(row) // 10) \
                or len(cached) < min(n, len(row)):
            cached = sorted(row.items(), key=lambda pair: (-pair[1], pair[0]))[:max(n, 100)]
            self._top[product] = cached
            self._dirty[product] = 0
        return cached[:n]
