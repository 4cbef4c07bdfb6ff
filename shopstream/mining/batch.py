"""Batch mining: frequent itemsets and rules of a whole basket collection at once.

Level-wise Apriori on integer item codes, tuned for CPython:

1. item counts with :class:`collections.Counter` (a C loop), items below the count
   threshold dropped from every basket;
2. pairs counted horizontally: for each item, the larger items sharing its baskets,
   counted in one C-level ``Counter`` pass per item;
3. itemsets of 3 items and more counted vertically: each candidate (a frequent itemset
   extended by an item that pairs frequently with all its items) is counted with a
   bitwise AND of Python-int bitsets and ``int.bit_count``.

Codes are assigned in alphabetical order of the item ids, so an itemset sorted by code
is also sorted by id. The result is exactly what adding every basket to a
:class:`~shopstream.mining.miner.RuleMiner` and deriving gives (a test proves it).

Examples
--------
>>> baskets = [["a", "b"], ["a", "b", "c"], ["a", "c"], ["b"]]
>>> result = mine_rules(baskets, RulesConfig(min_support=0.5, min_confidence=0.6,
...                                          min_lift=0.0))
>>> [(r.antecedents, r.consequent, r.count) for r in result.rules]
[(('c',), 'a', 2), (('a',), 'c', 2), (('a',), 'b', 2), (('b',), 'a', 2)]
>>> result.itemset_counts[("a", "b")]
2
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, count

from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import Rule, derive_coded_rules

__all__ = ["MiningResult", "frequent_itemsets", "mine_rules"]

Codes = tuple[int, ...]
Basket = Sequence[int]
"""A basket's item codes, sorted."""


@dataclass(frozen=True)
class MiningResult:
    """What one batch run found.

    ``itemset_counts`` holds every itemset of 1 to ``max_len`` items whose count reaches
    the threshold, keyed by sorted item tuples; ``item_count`` is the number of distinct
    items in the input.
    """

    rules: tuple[Rule, ...]
    itemset_counts: Mapping[tuple[str, ...], int]
    basket_count: int
    item_count: int


def frequent_itemsets(baskets: Iterable[Iterable[str]], config: RulesConfig
                      ) -> tuple[dict[tuple[str, ...], int], int, int]:
    """Counts of every itemset of 1 to ``max_len`` items with count >= the threshold.

    Returns ``(counts, basket_count, distinct_items)``. Duplicates inside a basket count
    once.

    Examples
    --------
    >>> counts, n, items = frequent_itemsets([["x", "y", "y"], ["x"]], RulesConfig(0.5))
    >>> counts, n, items
    ({('x',): 2, ('y',): 1, ('x', 'y'): 1}, 2, 2)
    """
    names, counts, basket_count, distinct = _frequent_codes(baskets, config)
    decode = names.__getitem__
    decoded = {tuple(map(decode, itemset)): n for itemset, n in counts.items()}
    return decoded, basket_count, distinct


def _frequent_codes(baskets: Iterable[Iterable[str]], config: RulesConfig
                    ) -> tuple[list[str], dict[Codes, int], int, int]:
    """:func:`frequent_itemsets` on item codes; also returns the code-to-item list."""
    if not isinstance(baskets, list | tuple):
        baskets = list(baskets)
    basket_count = len(baskets)
    min_count = config.min_count(basket_count)
    # Counting a set per basket dedupes; building it lazily keeps the strings in cache.
    item_counts = Counter(chain.from_iterable(map(set, baskets)))
    names = sorted(item for item, count in item_counts.items() if count >= min_count)
    code = dict(zip(names, count(), strict=False))
    counts: dict[Codes, int] = {(i,): item_counts[name] for i, name in enumerate(names)}
    if config.max_len < 2 or len(names) < 2:
        return names, counts, basket_count, len(item_counts)
    keep = set(names)
    to_code = code.__getitem__
    # A comprehension over C-level maps: a fifth faster than a loop of appends here.
    reduced = [sorted(map(to_code, kept)) for kept in map(keep.intersection, baskets)
               if len(kept) >= 2]
    pairs, partners = _count_pairs(reduced, len(names), min_count)
    counts.update(pairs)
    if config.max_len >= 3 and pairs:
        counts.update(_deeper_levels(reduced, pairs, partners, min_count, config.max_len))
    return names, counts, basket_count, len(item_counts)


def mine_rules(baskets: Iterable[Iterable[str]], config: RulesConfig) -> MiningResult:
    """Every rule of ``baskets`` that ``config`` keeps, in canonical order.

    See the module docstring for an example.
    """
    names, codes, basket_count, distinct = _frequent_codes(baskets, config)
    decode = names.__getitem__
    counts = {tuple(map(decode, itemset)): n for itemset, n in codes.items()}
    rules = derive_coded_rules(codes, basket_count, config, names)
    return MiningResult(tuple(rules), counts, basket_count, distinct)


def _count_pairs(reduced: Sequence[Basket], item_total: int, min_count: int
                 ) -> tuple[dict[Codes, int], list[set[int]]]:
    """Frequent pairs, and for each item the set of larger items it pairs with.

    Each basket is sorted, so the items after position ``i`` are exactly the larger
    partners of ``basket[i]``; gathering them per item and counting each item's list in
    one C-level ``Counter`` pass avoids building a tuple per pair.
    """
    after: list[list[int]] = [[] for _ in range(item_total)]
    for basket in reduced:
        for i in range(len(basket) - 1):
            after[basket[i]].extend(basket[i + 1:])
    pairs: dict[Codes, int] = {}
    partners: list[set[int]] = [set() for _ in range(item_total)]
    for first, seen in enumerate(after):
        if len(seen) < min_count:
            continue  # not even all its co-occurrences together reach the threshold
        frequent = [(second, n) for second, n in Counter(seen).items() if n >= min_count]
        if frequent:
            partners[first].update(second for second, _ in frequent)
            pairs.update(((first, second), n) for second, n in frequent)
    return pairs, partners


def _deeper_levels(reduced: Sequence[Basket], pairs: dict[Codes, int], partners: list[set[int]],
                   min_count: int, max_len: int) -> dict[Codes, int]:
    """Frequent itemsets of 3 to ``max_len`` items, counted with bitsets.

    A candidate extends a frequent itemset ``Y`` by an item that pairs frequently with
    every item of ``Y`` (an intersection of partner sets, done in C); from 4 items on, the
    other subsets of the candidate are checked too (the Apriori property).
    """
    item_bits = _item_bitsets(reduced, sorted({item for pair in pairs for item in pair}))
    found: dict[Codes, int] = {}
    previous = pairs
    # Bitsets of the (k-1)-itemsets are kept only when a further level needs them.
    previous_bits: dict[Codes, int] | None = None
    if max_len > 3:
        previous_bits = {pair: item_bits[pair[0]] & item_bits[pair[1]] for pair in pairs}
    for size in range(3, max_len + 1):
        current: dict[Codes, int] = {}
        current_bits: dict[Codes, int] = {}
        keep_bits = size < max_len
        for head in previous:
            extensions = partners[head[0]].intersection(*(partners[item] for item in head[1:]))
            if not extensions:
                continue
            head_bits = (previous_bits[head] if previous_bits is not None
                         else item_bits[head[0]] & item_bits[head[1]])
            for item in extensions:
                candidate = (*head, item)
                if size > 3 and not _all_subsets_in(candidate, previous):
                    continue
                bits = head_bits & item_bits[item]
                n = bits.bit_count()
                if n >= min_count:
                    current[candidate] = n
                    if keep_bits:
                        current_bits[candidate] = bits
        if not current:
            break
        found.update(current)
        previous, previous_bits = current, current_bits
    return found


def _all_subsets_in(candidate: Codes, previous: Mapping[Codes, int]) -> bool:
    """Apriori pruning: every subset that drops one item of the head is frequent.

    The subset that drops the last item is the head itself, frequent by construction.
    """
    size = len(candidate)
    return all(candidate[:i] + candidate[i + 1:] in previous for i in range(size - 1))


def _item_bitsets(baskets: Sequence[Basket], items: list[int]) -> dict[int, int]:
    """For each item, an int whose bit ``j`` is set when basket ``j`` holds the item."""
    wanted = set(items)
    positions: dict[int, list[int]] = {item: [] for item in items}
    for j, basket in enumerate(baskets):
        if len(basket) >= 3:
            for item in basket:
                if item in wanted:
                    positions[item].append(j)
    size = (len(baskets) + 8) // 8
    bitsets: dict[int, int] = {}
    for item, where in positions.items():
        buffer = bytearray(size)
        for j in where:
            buffer[j >> 3] |= 1 << (j & 7)
        bitsets[item] = int.from_bytes(buffer, "little")
    return bitsets
