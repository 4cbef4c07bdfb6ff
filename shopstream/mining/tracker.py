"""Exact itemset counts over a changing window of baskets, kept basket by basket.

Counting every subset of every basket is exact but slow and large (a 35-item basket has
7,175 subsets of up to 3 items; a 10,000-basket Instacart window holds 4 million
itemsets). Nearly all of them are rare and can never become a rule, so the tracker
counts an itemset only while it *could* be frequent, and recounts it exactly the moment
it becomes a candidate:

- it keeps the window's baskets and, per item, the set of baskets that hold it (so an
  item's count, and the count of any itemset, can be computed exactly at any time): that
  is the :class:`~shopstream.mining.basket_window.BasketWindow` it extends;
- for a *gate* ``g`` it keeps the exact count of every itemset of 2 to ``max_len`` items
  all of whose one-smaller subsets have count >= ``g`` (the Apriori candidates);
- when a basket comes or goes only that basket's candidate subsets change by one, and an
  itemset that starts (stops) being a candidate because a subset crossed ``g`` is
  recounted from the baskets holding that subset (dropped).

Every itemset with count >= ``g`` is therefore tracked with its exact count, so rules at
any minimum count ``>= g`` are exact. :class:`~shopstream.mining.miner.RuleMiner` moves
the gate with the minimum count. Items are integer codes; a code is reused only after
:meth:`ItemsetTracker.release_codes`, once its item has left the window.

Examples
--------
>>> tracker = ItemsetTracker(max_len=3)
>>> tracker.add(["milk", "bread", "eggs"])
>>> tracker.add(["milk", "bread"])
>>> tracker.set_gate(2)
>>> tracker.count(["bread", "milk"]), tracker.count(["bread", "eggs"])
(2, 1)
>>> tracker.tracked_count(["bread", "eggs"]) is None   # "eggs" is below the gate
True
>>> tracker.remove(["bread", "milk"])
>>> tracker.count(["bread", "milk"])
1
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import combinations

from shopstream.mining.basket_window import BasketWindow, Codes

# Codes (an itemset as sorted item codes) is the window's; it stays importable from here.
__all__ = ["Codes", "ItemsetTracker"]


class ItemsetTracker(BasketWindow):
    """Baskets of a window and the exact counts of every candidate itemset.

    The baskets, item codes and tid-lists are the :class:`BasketWindow`'s (``add``,
    ``remove``, ``evict_oldest``, ``count``, ``release_codes``); this class keeps the
    candidate counts up to date as baskets come and go.

    Parameters
    ----------
    max_len
        Largest itemset counted.
    """

    def __init__(self, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.gate = 1
        self.gate_moves = 0
        # levels[k] holds the tracked itemsets of k items (levels[0] and [1] stay empty).
        self.levels: list[dict[Codes, int]] = [{} for _ in range(max_len + 1)]
        self.dirty_items: set[int] = set()
        self.dirty_sets: set[Codes] = set()

    # -- counts ----------------------------------------------------------------------

    def tracked_count(self, items: Iterable[str]) -> int | None:
        """The kept count of ``items``, or ``None`` when the itemset is not tracked."""
        codes = self.encode_known(items)
        if codes is None:
            return None
        if len(codes) == 1:
            return len(self.tids[codes[0]])
        if len(codes) >= len(self.levels):
            return None
        return self.levels[len(codes)].get(codes)

    def itemset_count(self, itemset: Codes) -> int:
        """Count of a tracked itemset (0 when absent)."""
        if len(itemset) == 1:
            return len(self.tids[itemset[0]])
        return self.levels[len(itemset)].get(itemset, 0)

    def take_dirty(self) -> tuple[set[int], set[Codes]]:
        """Items and tracked itemsets whose count changed since the last call."""
        items, sets = self.dirty_items, self.dirty_sets
        self.dirty_items, self.dirty_sets = set(), set()
        return items, sets

    # -- the gate --------------------------------------------------------------------

    def set_gate(self, gate: int) -> None:
        """Track exactly the itemsets whose one-smaller subsets all reach ``gate``."""
        gate = max(1, gate)
        if gate == self.gate:
            return
        self.gate_moves += 1
        if gate > self.gate:
            self.gate = gate
            self._prune_untracked()
        else:
            self._lower_gate(gate)

    def _prune_untracked(self) -> None:
        """Drop tracked itemsets that stopped being candidates (after a gate raise)."""
        gate, tids = self.gate, self.tids
        for size in range(2, self.max_len + 1):
            below = self.levels[size - 1]
            level = self.levels[size]
            if size == 2:
                gone = [z for z in level if len(tids[z[0]]) < gate or len(tids[z[1]]) < gate]
            else:
                gone = [z for z in level
                        if any(below.get(z[:i] + z[i + 1:], 0) < gate for i in range(size))]
            for itemset in gone:
                del level[itemset]

    def _lower_gate(self, gate: int) -> None:
        """Start tracking the itemsets that become candidates when the gate drops."""
        old = self.gate
        self.gate = gate
        promoted: set[Codes] = {(code,) for code, baskets in enumerate(self.tids)
                                if gate <= len(baskets) < old}
        for size in range(2, self.max_len + 1):
            level = self.levels[size]
            newly = {z for z, n in level.items() if gate <= n < old}
            for itemset, n in self._recount_supersets(promoted, size).items():
                level[itemset] = n
                if n >= gate:
                    newly.add(itemset)
            promoted = newly

    # -- counting baskets in and out ----------------------------------------------

    def _added(self, basket: Codes) -> None:
        """Add one basket's contribution; recount itemsets that became candidates."""
        gate, tids, dirty = self.gate, self.tids, self.dirty_sets
        frequent: list[Codes] = []
        promoted: set[Codes] = set()
        for code in basket:
            n_item = len(tids[code])
            if n_item >= gate:
                frequent.append((code,))
                if n_item == gate:
                    promoted.add((code,))
        self.dirty_items.update(basket)
        members = set(basket)
        for size in range(2, self.max_len + 1):
            level = self.levels[size]
            next_frequent: list[Codes] = []
            next_promoted: set[Codes] = set()
            for itemset in _join(frequent, size):
                if promoted and _has_subset_in(itemset, promoted):
                    continue  # a new candidate: the recount below includes this basket
                n = level.get(itemset, 0) + 1
                level[itemset] = n
                dirty.add(itemset)
                if n >= gate:
                    next_frequent.append(itemset)
                    if n == gate:
                        next_promoted.add(itemset)
            if promoted:
                for itemset, n in self._recount_supersets(promoted, size).items():
                    level[itemset] = n
                    dirty.add(itemset)
                    if n >= gate:
                        next_promoted.add(itemset)
                        if members.issuperset(itemset):
                            next_frequent.append(itemset)
            if not next_frequent and not next_promoted:
                break
            frequent, promoted = sorted(next_frequent), next_promoted

    def _removed(self, basket: Codes) -> None:
        """Remove one basket's contribution; drop itemsets that stopped being candidates."""
        gate, tids, dirty = self.gate, self.tids, self.dirty_sets
        was_frequent: list[Codes] = []
        demoted: set[Codes] = set()
        for code in basket:
            before = len(tids[code]) + 1
            if before >= gate:
                was_frequent.append((code,))
                if before == gate:
                    demoted.add((code,))
        self.dirty_items.update(basket)
        for size in range(2, self.max_len + 1):
            level = self.levels[size]
            next_frequent: list[Codes] = []
            next_demoted: set[Codes] = set()
            for itemset in _join(was_frequent, size):
                before = level[itemset]
                dirty.add(itemset)
                if before >= gate:
                    next_frequent.append(itemset)
                if demoted and _has_subset_in(itemset, demoted):
                    del level[itemset]  # no longer a candidate
                    if before >= gate:
                        next_demoted.add(itemset)
                    continue
                if before == 1:
                    del level[itemset]
                else:
                    level[itemset] = before - 1
                if before == gate:
                    next_demoted.add(itemset)
            for itemset in self._supersets_in_window(demoted, size):
                n = level.pop(itemset, 0)
                if n:
                    dirty.add(itemset)
                    if n >= gate:
                        next_demoted.add(itemset)
            if not next_frequent and not next_demoted:
                break
            was_frequent, demoted = sorted(next_frequent), next_demoted

    def _supersets_in_window(self, itemsets: Iterable[Codes], size: int) -> set[Codes]:
        """Every itemset of ``size`` items that extends one of ``itemsets`` in some basket."""
        found: set[Codes] = set()
        for itemset in itemsets:
            for code in self._co_items(itemset):
                found.add(tuple(sorted((*itemset, code))))
        return found

    def _recount_supersets(self, promoted: Iterable[Codes], size: int) -> dict[Codes, int]:
        """Exact counts of the candidates of ``size`` items that extend a promoted itemset.

        Each promoted itemset's baskets hold every basket of each of its supersets, so one
        pass over them (a C-level count of the items beside it) counts those supersets.
        """
        gate, tids, below = self.gate, self.tids, self.levels[size - 1]
        fresh: dict[Codes, int] = {}
        for itemset in sorted(promoted):
            for code, n in self._co_items(itemset).items():
                if size == 2:
                    if len(tids[code]) < gate:
                        continue
                    first = itemset[0]
                    candidate: Codes = (first, code) if first < code else (code, first)
                else:
                    candidate = tuple(sorted((*itemset, code)))
                    if not all(below.get(candidate[:i] + candidate[i + 1:], 0) >= gate
                               for i in range(size)):
                        continue
                fresh.setdefault(candidate, n)
        return fresh


def _join(frequent: list[Codes], size: int) -> Iterator[Codes]:
    """The itemsets of ``size`` items whose one-smaller subsets are all in ``frequent``.

    ``frequent`` holds sorted itemsets of ``size - 1`` items, in sorted order (for size 2,
    the 1-tuples of single items).
    """
    if size == 2:
        yield from combinations([itemset[0] for itemset in frequent], 2)
        return
    known = set(frequent)
    for i, left in enumerate(frequent):
        prefix = left[:-1]
        for right in frequent[i + 1:]:
            if right[:-1] != prefix:
                break
            candidate = (*left, right[-1])
            if all(candidate[:j] + candidate[j + 1:] in known for j in range(size - 2)):
                yield candidate


def _has_subset_in(itemset: Codes, subsets: set[Codes]) -> bool:
    """Whether one of the one-smaller subsets of ``itemset`` is in ``subsets``."""
    return any(itemset[:i] + itemset[i + 1:] in subsets for i in range(len(itemset)))
