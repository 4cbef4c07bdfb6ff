"""The serving half's view of the models: published lists, versioned by event time.

Every model reaches the recommender as a compact update stamped with the event time it
holds from: :class:`~shopstream.events.recommendations.ModelList` (next items,
co-occurrence, bought together, popular), the rules of an antecedent
(:class:`~shopstream.events.patterns.AntecedentRules`), the trending list and the stock
of a product. :class:`PublishedLists` keeps the newest ``versions`` of each list and
answers with the newest one whose ``valid_from`` is not after the time asked about. So
the list an event at ``t`` sees is decided by event time alone: updates may arrive in
any order (as they do from parallel publishers on a distributed engine), and an update
that arrives early waits its turn.

Bounds: ``versions`` per list; at most ``max_anchors`` anchors per kind (beyond it the
tenth of anchors updated longest ago are dropped, an ``O(n log n)`` sweep amortised over
a tenth of ``max_anchors`` updates). A lookup is one or two dictionary reads.

Examples
--------
>>> from shopstream.events.recommendations import ModelList
>>> lists = PublishedLists()
>>> lists.apply(ModelList("NEXT_ITEM", "tea", 200, ("cake",), (3.0,)))
>>> lists.apply(ModelList("NEXT_ITEM", "tea", 100, ("milk",), (1.0,)))  # arrives late
>>> lists.get("NEXT_ITEM", "tea", 150), lists.get("NEXT_ITEM", "tea", 250)
((('milk',), (1.0,)), (('cake',), (3.0,)))
>>> lists.get("NEXT_ITEM", "tea", 99) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopstream.errors import require_positive
from shopstream.events.patterns import AntecedentRules
from shopstream.events.recommendations import ModelList, TrendingProducts
from shopstream.recommend.base import BASKET_BASED, TRENDING

__all__ = ["AVAILABILITY", "PublishedConfig", "PublishedLists", "RankedList", "version_at"]

#: Kind of the per-product availability entries (``catalog-changes``).
AVAILABILITY = "AVAILABILITY"

#: ``(items, scores)``, best first.
RankedList = tuple[tuple[str, ...], tuple[float, ...]]

_Version = tuple[int, Any]


@dataclass(frozen=True)
class PublishedConfig:
    """Caps of the published lists.

    Parameters
    ----------
    versions
        Versions kept per list (two let an event just before an update still see the
        list it would have seen had the update come later).
    max_anchors
        Anchors kept per kind.
    """

    versions: int = 2
    max_anchors: int = 200_000

    def __post_init__(self) -> None:
        require_positive(self, "versions", "max_anchors")


class PublishedLists:
    """The latest published versions of every list; see the module documentation."""

    def __init__(self, config: PublishedConfig | None = None) -> None:
        self.config = config or PublishedConfig()
        self.tables: dict[str, dict[Any, list[_Version]]] = {}

    def table(self, kind: str) -> dict[Any, list[_Version]]:
        """The versions of every anchor of ``kind`` (created empty on first use)."""
        table = self.tables.get(kind)
        if table is None:
            table = self.tables[kind] = {}
        return table

    def anchors(self) -> int:
        """Anchors held, over all kinds."""
        return sum(len(t) for t in self.tables.values())

    def put(self, kind: str, anchor: Any, valid_from: int, value: Any) -> None:
        """Add one version; a version with the same ``valid_from`` replaces the old."""
        table = self.table(kind)
        versions = table.get(anchor)
        if versions is None:
            table[anchor] = [(valid_from, value)]
            if len(table) > self.config.max_anchors:
                self._sweep(table)
            return
        for i, (at, _) in enumerate(versions):
            if at == valid_from:
                versions[i] = (valid_from, value)
                return
        versions.append((valid_from, value))
        if len(versions) > 1 and valid_from < versions[-2][0]:
            versions.sort(key=_first)
        if len(versions) > self.config.versions:
            del versions[0]

    def apply(self, update: Any) -> None:
        """Take one published update of any kind the recommender reads."""
        if isinstance(update, ModelList):
            self.put(update.kind, update.anchor, update.valid_from,
                     (update.items, update.scores, update.sources) if update.sources
                     else (update.items, update.scores))
        elif isinstance(update, AntecedentRules):
            ranked = tuple((r.consequent, r.confidence, r.lift) for r in update.rules)
            self.put(BASKET_BASED, update.antecedents, update.updated_at + 1, ranked)
        elif isinstance(update, TrendingProducts):
            products = update.products
            self.put(TRENDING, "", update.window_end,
                     (tuple([p.product_id for p in products]),
                      tuple([p.score for p in products])))

    def available(self, product: str, stock: bool, valid_from: int) -> None:
        """A catalog change: ``product`` can (``stock``) or cannot be bought from then."""
        self.put(AVAILABILITY, product, valid_from, stock)

    def get(self, kind: str, anchor: Any, at_ms: int) -> Any:
        """The newest value of ``anchor`` valid at ``at_ms``, or ``None``."""
        table = self.tables.get(kind)
        if table is None:
            return None
        versions = table.get(anchor)
        if not versions:
            return None
        return _at(versions, at_ms)

    def _sweep(self, table: dict[Any, list[_Version]]) -> None:
        drop = max(1, len(table) // 10)
        oldest = sorted(table, key=lambda a: (table[a][-1][0], str(a)))[:drop]
        for anchor in oldest:
            del table[anchor]


def lookup(table: dict[Any, list[_Version]], anchor: Any, at_ms: int) -> Any:
    """:meth:`PublishedLists.get` on a table already fetched (the hot path)."""
    versions = table.get(anchor)
    if not versions:
        return None
    return _at(versions, at_ms)


def version_at(versions: list[_Version], at_ms: int) -> Any:
    """The newest value of ``versions`` (one anchor's, oldest first) valid at ``at_ms``,
    or ``None``: :func:`lookup` once the anchor's versions are fetched.

    Examples
    --------
    >>> version_at([(100, "old"), (200, "new")], 150), version_at([(100, "old")], 99)
    ('old', None)
    """
    for at, value in reversed(versions):
        if at <= at_ms:
            return value
    return None


_at = version_at


def _first(version: _Version) -> int:
    return version[0]
