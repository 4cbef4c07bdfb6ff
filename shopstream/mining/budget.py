"""Mining within a budget: exact rules at the lowest support the budget allows.

At a low support, long baskets make the number of frequent itemsets explode: a basket
of ``k`` distinct items holds ``k * (k - 1) * (k - 2) / 6`` triples, and when every one
of them is frequent (each shopper's orders concatenated, a MovieLens user's ratings)
batch Apriori counts millions of candidates. :func:`mine_within_budget` bounds the work
in three ways and reports what it did:

1. only the first ``max_basket_items`` distinct items of a basket are kept: baskets list
   items in the order they were added, so the prefix is what the shopper put in first
   (and the rules stay about items seen together early in a visit);
2. the count threshold is raised, when needed, to the smallest count at which at most
   ``max_itemsets`` itemsets (of every size, single items included) are frequent;
3. from 3 items on, candidates are generated from the most frequent smaller itemsets
   down, so that when more than ``max_candidates`` would have to be counted at one level
   the threshold is raised to the count where the list stops, before any is counted.

Items and pairs are counted exactly first (their cost grows with the basket count times
``max_basket_items`` squared, never combinatorially). The result is exactly
:func:`~shopstream.mining.batch.mine_rules` of the truncated baskets at
``min_support_used``; only when an itemset lies in every basket can the threshold not
be raised further, and the budget is then exceeded rather than the support taken
above 1.

Examples
--------
>>> baskets = [["milk", "bread", "eggs"], ["milk", "bread"], ["bread", "tea"],
...            ["tea", "milk", "bread", "jam"]]
>>> config = RulesConfig(min_support=0.25, min_confidence=0.5)
>>> mined = mine_within_budget(baskets, config, MiningBudget(max_itemsets=6,
...                                                          max_basket_items=3))
>>> mined.raised, mined.min_support_used, mined.truncated_baskets
(True, 0.5, 1)
>>> len(mined.result.itemset_counts), [(r.antecedents, r.consequent) for r in mined.result.rules]
(5, [(('milk',), 'bread'), (('bread',), 'milk'), (('tea',), 'bread'), (('bread',), 'tea')])
>>> from shopstream.mining.batch import mine_rules
>>> truncated = [MiningBudget(max_basket_items=3).truncate(b) for b in baskets]
>>> mined.result == mine_rules(truncated, RulesConfig(min_support=0.5, min_confidence=0.5))
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import chain, count, islice
from operator import itemgetter

from shopstream.errors import ConfigError
from shopstream.mining.batch import MiningResult, _item_bitsets
from shopstream.mining.config import RulesConfig
from shopstream.mining.rules import derive_coded_rules

__all__ = ["BudgetedMining", "MiningBudget", "mine_within_budget"]

Codes = tuple[int, ...]


@dataclass(frozen=True)
class MiningBudget:
    """How much work :func:`mine_within_budget` may do.

    Parameters
    ----------
    max_itemsets
        Most frequent itemsets kept, all sizes together (single items included), ``>= 1``.
    max_basket_items
        Distinct items of one basket considered, ``>= 1``: a longer basket keeps its first
        ones, in the order given (the order items were added to it).
    max_candidates
        Most itemsets of 3 items or more whose count is computed at one level, ``>= 1``.
        Each costs a bitwise AND over all baskets (about 1 us per 10,000 baskets).

    Examples
    --------
    >>> MiningBudget()
    MiningBudget(max_itemsets=50000, max_basket_items=50, max_candidates=250000)
    >>> MiningBudget(max_basket_items=2).truncate(["a", "b", "a", "c"])
    ('a', 'b')
    >>> MiningBudget(max_itemsets=0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: MiningBudget.max_itemsets must be an int >= 1, got 0
    """

    max_itemsets: int = 50_000
    max_basket_items: int = 50
    max_candidates: int = 250_000

    def __post_init__(self) -> None:
        for name in ("max_itemsets", "max_basket_items", "max_candidates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"MiningBudget.{name} must be an int >= 1, got {value!r}"
                raise ConfigError(msg)

    def truncate(self, basket: Iterable[str]) -> tuple[str, ...]:
        """The distinct items of ``basket`` in first-seen order, at most ``max_basket_items``.

        Examples
        --------
        >>> MiningBudget(max_basket_items=3).truncate("abcbde")
        ('a', 'b', 'c')
        """
        return tuple(islice(dict.fromkeys(basket), self.max_basket_items))


@dataclass(frozen=True)
class BudgetedMining:
    """What :func:`mine_within_budget` found, and at which support.

    ``result`` is exactly ``mine_rules`` of the truncated baskets with
    ``min_support_used`` in place of the asked support; ``raised`` says whether that
    support is above the asked one; ``truncated_baskets`` counts the baskets that had
    more than ``max_basket_items`` distinct items.
    """

    result: MiningResult
    min_support_used: float
    raised: bool
    truncated_baskets: int


def mine_within_budget(baskets: Iterable[Iterable[str]], config: RulesConfig,
                       budget: MiningBudget) -> BudgetedMining:
    """The rules of ``baskets`` at ``config``'s support or, if over ``budget``, a higher one.

    See the module docstring for the strategy and an example.
    """
    kept, truncated = _truncate_all(baskets, budget.max_basket_items)
    basket_count = len(kept)
    asked = config.min_count(basket_count)
    # The threshold can rise to the count of an itemset in every basket, no further.
    ceiling = max(basket_count, 1)
    item_counts = Counter(chain.from_iterable(kept))
    # how many itemsets found so far have each count: what the threshold is chosen from
    tally = Counter(item_counts.values())
    threshold = _within(tally, asked, budget.max_itemsets, ceiling)
    names = sorted(item for item, n in item_counts.items() if n >= threshold)
    counts: dict[Codes, int] = {(i,): item_counts[name] for i, name in enumerate(names)}
    if config.max_len >= 2 and len(names) >= 2:
        threshold = _pairs_and_deeper(kept, names, counts, tally, threshold, config.max_len,
                                      budget, ceiling)
    if threshold == asked:
        used = config
    else:
        used = replace(config, min_support=_support_for(threshold, basket_count))
    result = _result(names, counts, used, basket_count, len(item_counts))
    return BudgetedMining(result, used.min_support, threshold > asked, truncated)


def _result(names: list[str], counts: dict[Codes, int], config: RulesConfig,
            basket_count: int, item_count: int) -> MiningResult:
    """The rules and itemsets of ``counts`` that reach ``config``'s threshold, decoded."""
    threshold = config.min_count(basket_count)
    counts = {itemset: n for itemset, n in counts.items() if n >= threshold}
    frequent = sorted(itemset[0] for itemset in counts if len(itemset) == 1)
    frequent_names = [names[old] for old in frequent]
    if len(frequent) < len(names):  # recode densely, still sorted like the ids
        recode = {old: new for new, old in enumerate(frequent)}.__getitem__
        counts = {tuple(map(recode, itemset)): n for itemset, n in counts.items()}
    rules = derive_coded_rules(counts, basket_count, config, frequent_names)
    decode = frequent_names.__getitem__
    return MiningResult(tuple(rules),
                        {tuple(map(decode, itemset)): n for itemset, n in counts.items()},
                        basket_count, item_count)


def _truncate_all(baskets: Iterable[Iterable[str]], limit: int
                  ) -> tuple[list[tuple[str, ...]], int]:
    """Each basket's distinct items, the first ``limit`` of them; and how many were cut."""
    kept: list[tuple[str, ...]] = []
    truncated = 0
    for basket in baskets:
        distinct = dict.fromkeys(basket)
        if len(distinct) > limit:
            truncated += 1
            kept.append(tuple(islice(distinct, limit)))
        else:
            kept.append(tuple(distinct))
    return kept, truncated


def _within(tally: Counter[int], floor: int, room: int, ceiling: int) -> int:
    """The smallest threshold ``>= floor`` (and ``<= ceiling``) keeping ``<= room`` itemsets.

    ``tally[n]`` is how many itemsets have count ``n``. With more than ``room`` at
    ``floor``, the threshold is one more than the ``(room + 1)``-th largest count: ties at
    that count all go.

    Examples
    --------
    >>> _within(Counter({9: 1, 5: 2, 3: 4}), floor=2, room=3, ceiling=10)
    4
    >>> _within(Counter({9: 1, 5: 2, 3: 4}), floor=2, room=2, ceiling=10)
    6
    """
    kept = 0
    for n in sorted(tally, reverse=True):
        if n < floor:
            break
        kept += tally[n]
        if kept > room:
            return min(n + 1, ceiling)
    return floor


def _pairs_and_deeper(kept: list[tuple[str, ...]], names: list[str], counts: dict[Codes, int],
                      tally: Counter[int], threshold: int, max_len: int, budget: MiningBudget,
                      ceiling: int) -> int:
    """Add the frequent pairs and larger itemsets to ``counts`` (and their counts to
    ``tally``); return the threshold.

    ``counts`` may keep itemsets below the returned threshold; the caller drops them.
    """
    code = dict(zip(names, count(), strict=False))
    reduced: list[Codes] = []
    for basket in kept:
        codes = sorted(code[item] for item in basket if item in code)
        if len(codes) >= 2:
            reduced.append(tuple(codes))
    partners = _pair_counts(reduced, len(names), threshold)
    for _, seconds in partners:
        tally.update(seconds.values())
    threshold = _within(tally, threshold, budget.max_itemsets, ceiling)
    # Pairs become tuples only once the threshold is known: at a low support most go.
    level: dict[Codes, int] = {(first, second): n for first, seconds in partners
                               for second, n in seconds.items() if n >= threshold}
    del partners
    counts.update(level)
    if max_len < 3 or not level:
        return threshold
    bits = _item_bitsets(reduced, sorted({item for pair in level for item in pair}))
    for _size in range(3, max_len + 1):
        heads, threshold = _candidates(level, threshold, budget.max_candidates, ceiling)
        level = {}
        for head, extensions in heads:
            head_bits = bits[head[0]]
            for item in head[1:]:
                head_bits &= bits[item]
            for item in extensions:
                n = (head_bits & bits[item]).bit_count()
                if n >= threshold:
                    level[tuple(sorted((*head, item)))] = n
        counts.update(level)
        tally.update(level.values())
        threshold = _within(tally, threshold, budget.max_itemsets, ceiling)
        level = {itemset: n for itemset, n in level.items() if n >= threshold}
        if not level:
            break
    return threshold


def _pair_counts(reduced: list[Codes], item_total: int, floor: int
                 ) -> list[tuple[int, dict[int, int]]]:
    """For each item, the larger items it pairs with at least ``floor`` times, and how often.

    As :func:`~shopstream.mining.batch.frequent_itemsets` counts pairs: the items after
    an item in a sorted basket are its larger partners, counted in one C-level pass.
    Their number is at most ``max_basket_items ** 2 / 2`` per basket over ``floor``.
    """
    after: list[list[int]] = [[] for _ in range(item_total)]
    for basket in reduced:
        for i in range(len(basket) - 1):
            after[basket[i]].extend(basket[i + 1:])
    partners: list[tuple[int, dict[int, int]]] = []
    for first, seen in enumerate(after):
        if len(seen) >= floor:
            seconds = {second: n for second, n in Counter(seen).items() if n >= floor}
            if seconds:
                partners.append((first, seconds))
    return partners


def _candidates(level: dict[Codes, int], threshold: int, cap: int, ceiling: int
                ) -> tuple[list[tuple[Codes, list[int]]], int]:
    """The candidates one item larger than ``level``'s itemsets, at most ``cap`` of them.

    A candidate's count is at most the smallest count of its subsets, so the itemsets
    of ``level`` are switched on from the most frequent down, and a candidate is made
    when its last subset is switched on (it extends that subset, the *head*, by one
    item). When the ``cap`` is passed inside the group of itemsets with count ``n``, the
    candidates of that group are dropped and the threshold becomes ``n + 1``: exactly
    the remaining candidates can reach it.
    """
    # extend[z]: the items x such that the itemset z + (x,) is switched on
    extend: dict[Codes, set[int]] = {}
    empty: set[int] = set()
    heads: list[tuple[Codes, list[int]]] = []
    made = group_heads = 0
    group_count = -1
    for itemset, n in sorted(level.items(), key=itemgetter(1), reverse=True):
        if n < threshold:
            break
        if n != group_count:
            group_count, group_heads = n, len(heads)
        rests = [itemset[:i] + itemset[i + 1:] for i in range(len(itemset))]
        new = extend.get(rests[0], empty).intersection(
            *(extend.get(rest, empty) for rest in rests[1:]))
        if new:
            heads.append((itemset, list(new)))
            made += len(new)
            if made > cap and n < ceiling:
                del heads[group_heads:]
                return heads, n + 1
        for item, rest in zip(itemset, rests, strict=True):
            extend.setdefault(rest, set()).add(item)
    return heads, threshold


def _support_for(threshold: int, basket_count: int) -> float:
    """The shortest decimal support whose count threshold over ``basket_count`` is exactly
    ``threshold``: a share in ``((threshold - 1) / N, threshold / N]``.

    Examples
    --------
    >>> _support_for(17, 15_183), RulesConfig(0.0011).min_count(15_183)
    (0.0011, 17)
    """
    scale = 10
    while True:  # the interval is 1 / N wide: some scale below 10 * N fits a decimal in
        # the largest multiple of 1 / scale not above threshold / N
        share = threshold * scale // basket_count
        if share * basket_count > (threshold - 1) * scale:
            return share / scale  # int / int is correctly rounded: prints as the decimal
        scale *= 10
