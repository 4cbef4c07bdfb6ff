"""Learning and publishing in one process: what the pipeline's learning stages do, for
offline evaluation and tests.

:class:`ModelTrainer` feeds a :class:`~shopstream.recommend.pairs.PairLearner` (all
sessions in one key group), merges its deltas into per-anchor
:class:`~shopstream.recommend.counts.AnchorCounts` exactly as the ``rec-models`` stage
does, keeps each shopper's :class:`~shopstream.recommend.history.UserHistory` as the
recommendation operator does in keyed state, and publishes the lists into a
:class:`~shopstream.recommend.published.PublishedLists`. Baskets are remembered (the
latest ``window_baskets``) so :meth:`ModelTrainer.mine_rules` can publish rules too,
within a mining budget.

A training whose lists are all republished afterwards (:meth:`ModelTrainer.publish_all`,
the frozen model of the static protocol, and the end of every offline training) can set
:attr:`ModelTrainer.defer_lists`: publications then only merge the learned counts (and
publish trending) and leave the per-product lists to ``publish_all``, which gives the
same lists (the lists published before it are forgotten, and the counts do not depend on
when their lists were read). With ``record=True`` the trainer keeps every merge it made
(:attr:`ModelTrainer.tape`), so that :meth:`ModelTrainer.with_counts` can give the
trainer the same input would have made under other counts settings (another memory)
by replaying only the merges: the learners, histories, trending and baskets, which do
not depend on those settings, are learned once.

Examples
--------
>>> trainer = ModelTrainer(RecommendConfig())
>>> for t, p in enumerate(["tea", "cake", "tea", "milk"]):
...     trainer.learn_step(f"s{t // 2}", "u1", p, "VIEW_PRODUCT", t)
>>> trainer.publish(10)
>>> trainer.lists.get("NEXT_ITEM", "tea", 10)
(('cake', 'milk'), (1.0, 1.0))
>>> trainer.history("u1")
('tea', 'milk', 'cake')
"""

from __future__ import annotations

import copy
import gc
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

from shopstream.events.patterns import AntecedentRules, RuleSummary
from shopstream.events.recommendations import PairDelta
from shopstream.mining import RuleIndex
from shopstream.mining.budget import MiningBudget, mine_within_budget
from shopstream.recommend.anchor_lists import AnchorLists
from shopstream.recommend.base import (
    ANCHORED_KINDS,
    BASKET_BASED,
    CO_OCCURRENCE,
    CROSS_SELL,
    NEXT_ITEM,
    POPULAR,
    SESSION_PAIRS,
    TRENDING,
)
from shopstream.recommend.counts import CountsConfig
from shopstream.recommend.history import UserHistory
from shopstream.recommend.pairs import PairLearner
from shopstream.recommend.published import PublishedLists
from shopstream.recommend.session_pairs import counts_config
from shopstream.recommend.suite import RecommendConfig
from shopstream.recommend.trending import TrendTracker

__all__ = ["ModelTrainer", "collector_paused"]

#: The place of a kind whose list was not published yet (see ``ModelTrainer._merge``):
#: no products, so it never equals a published list.
_UNPUBLISHED: tuple[tuple[str, ...], tuple[float, ...]] = ((), ())


class ModelTrainer:
    """Learn, merge and publish in one process; see the module documentation."""

    def __init__(self, config: RecommendConfig, window_baskets: int = 20_000,
                 budget: MiningBudget | None = None, record: bool = False) -> None:
        self.config = config
        self.learner = PairLearner(config.pairs)
        #: per anchor product (``""``: popularity), merged as the rec-models stage does
        self.merged: dict[str, AnchorLists] = {}
        self.lists = PublishedLists(config.published)
        self.users: dict[str, UserHistory] = {}
        self.baskets: deque[tuple[str, ...]] = deque(maxlen=window_baskets)
        self.budget = budget or MiningBudget()
        self.rules_note = ""
        self.trend = TrendTracker(config.trending)
        self._weights = {kind: w for kind, w in config.blend.weights
                         if kind in ANCHORED_KINDS and w > 0}
        #: While true, :meth:`publish` merges and publishes trending but leaves the
        #: per-product lists to the next :meth:`publish_all` (which clears it).
        self.defer_lists = False
        #: With ``record``: every merge made, ``(event time, deltas)``, in order. It grows
        #: with the training (every delta of it, unbounded by the model's caps): offline
        #: only; set it to ``None`` once :meth:`with_counts` has replayed it.
        self.tape: list[tuple[int, list[PairDelta]]] | None = [] if record else None

    def learn_step(self, session_id: str, user_id: str, product: str, kind: str,
                   timestamp_ms: int) -> None:
        """One shopper action: pair counts and the shopper's history."""
        self.learner.learn_step(session_id, product, kind, timestamp_ms)
        history = self.users.get(user_id)
        if history is None:
            history = self.users[user_id] = UserHistory()
        history.learn(product, kind, timestamp_ms, self.config.history)
        self.trend.add(product, self.config.trending.weights.of(kind), timestamp_ms)
        if self.learner.full:
            self.publish(timestamp_ms)

    def learn_basket(self, items: Sequence[str], timestamp_ms: int) -> None:
        """One completed basket: bought-together counts, and the rule miner's window."""
        self.learner.learn_basket(items)
        self.baskets.append(tuple(dict.fromkeys(items)))
        if self.learner.full:
            self.publish(timestamp_ms)

    def history(self, user_id: str) -> tuple[str, ...]:
        """The shopper's strongest past products, as a request carries them."""
        found = self.users.get(user_id)
        if found is None:
            return ()
        return found.products(self.config.serve.history)

    def publish(self, valid_from_ms: int, now_ms: int | None = None) -> None:
        """Merge what was learned since the last call and publish the changed lists,
        valid from ``valid_from_ms``; the trending list is that of the window ending at
        ``now_ms`` (default: ``valid_from_ms``)."""
        anchors = self._merge_pending(valid_from_ms)
        if not self.defer_lists:
            self._publish_lists(anchors, valid_from_ms)
        self._publish_trending(valid_from_ms, now_ms)

    def _publish_lists(self, anchors: list[str], valid_from_ms: int) -> None:
        """The changed lists of ``anchors``, as the ``rec-models`` stage publishes them."""
        for anchor in anchors:
            for model in self.merged[anchor].publish(valid_from_ms, self.config.counts,
                                                     self._weights):
                self.lists.apply(model)

    def _publish_trending(self, valid_from_ms: int, now_ms: int | None) -> None:
        trending = self.config.trending
        end = valid_from_ms if now_ms is None else now_ms
        products = tuple(self.trend.snapshot(end - 1, trending.top_n))
        self.lists.put(TRENDING, "", valid_from_ms,
                       (tuple(p.product_id for p in products), tuple(p.score for p in products)))

    def publish_all(self, valid_from_ms: int, now_ms: int | None = None) -> None:
        """Forget every published list and publish every anchor's list afresh, valid from
        ``valid_from_ms``: the frozen model of the static protocol. Ends
        :attr:`defer_lists`."""
        self._merge_pending(valid_from_ms)
        self.defer_lists = False
        rules = self.lists.tables.get(BASKET_BASED)
        self.lists.tables = {BASKET_BASED: rules} if rules else {}
        for lists in self.merged.values():
            lists.republish()
        self._publish_lists(sorted(self.merged), valid_from_ms)
        self._publish_trending(valid_from_ms, now_ms)

    def _merge_pending(self, at_ms: int) -> list[str]:
        """Merge the learner's pending deltas; return the anchors touched, in order."""
        deltas = self.learner.drain()
        if self.tape is not None:
            self.tape.append((at_ms, deltas))
        return self._merge(deltas, at_ms)

    def _merge(self, deltas: list[PairDelta], at_ms: int,
               shared: Mapping[str, AnchorLists] | None = None,
               shared_kinds: Collection[str] = ()) -> list[str]:
        """Merge ``deltas`` at ``at_ms``; return the anchors touched, in order. The
        counts of ``shared_kinds`` are not added: each anchor takes ``shared``'s (the
        finished counts of a trainer that merged the same deltas under the same counts
        settings for those kinds, see :meth:`with_counts`)."""
        touched: dict[str, set[str]] = {}
        merged = self.merged
        counts = self.config.counts
        for delta in deltas:
            lists = merged.get(delta.anchor)
            if lists is None:
                lists = merged[delta.anchor] = AnchorLists(delta.anchor)
            if shared is not None and delta.kind in shared_kinds:
                if delta.kind not in lists.counts:
                    lists.counts[delta.kind] = shared[delta.anchor].counts[delta.kind]
                lists.pending.add(delta.kind)
            else:
                lists.add(delta, at_ms, counts)
            kinds = touched.get(delta.anchor)
            if kinds is None:
                touched[delta.anchor] = {delta.kind}
            else:
                kinds.add(delta.kind)
        if self.defer_lists:
            # An anchor's lists are fused in the order its kinds were first published
            # (float sums in that order): hold each kind's place as publishing after
            # this merge would have taken it (in kind order), so that publish_all fuses
            # exactly as a training that published as it went.
            for anchor, kinds in touched.items():
                top = merged[anchor].top
                for kind in sorted(kinds):
                    if kind not in top:
                        top[kind] = _UNPUBLISHED
        return list(touched)

    def with_counts(self, counts: CountsConfig) -> ModelTrainer:
        """The trainer this one's input would have made with ``counts`` (caps and
        memory of the merged counts) instead: this trainer's recorded merges (it must be
        made with ``record=True``) replayed in order at their event times, so its counts
        are exactly those a training under ``counts`` gives, since nothing else a trainer
        learns depends on them. It shares this trainer's learner, histories, trending
        and baskets (do not train either further) and starts with a copy of its rules;
        its lists are published by :meth:`publish_all`, as after a training with
        :attr:`defer_lists`. Cost: the merges of one training, not its learning, and
        not even those of a kind counted alike under both settings (SESSION_PAIRS keeps
        a year's memory under any shorter half-life): that kind's finished counts are
        shared, not replayed.

        Examples
        --------
        >>> from shopstream.recommend.pairs import PairsConfig
        >>> def trained(counts, record=False):
        ...     config = RecommendConfig(pairs=PairsConfig(max_pending=2), counts=counts)
        ...     trainer = ModelTrainer(config, record=record)
        ...     for t, p in enumerate(["tea", "cake", "tea", "milk"]):
        ...         trainer.learn_step("s", "u1", p, "VIEW_PRODUCT", t * 10)
        ...     return trainer
        >>> decaying = trained(CountsConfig(half_life_ms=10), record=True)
        >>> never = decaying.with_counts(CountsConfig(half_life_ms=0))
        >>> direct = trained(CountsConfig(half_life_ms=0))
        >>> for trainer in (decaying, never, direct):
        ...     trainer.publish_all(0, now_ms=31)
        >>> decaying.lists.get("POPULAR", "", 31)[0], never.lists.get("POPULAR", "", 31)
        (('milk', 'tea', 'cake'), (('tea', 'cake', 'milk'), (0.5, 0.25, 0.25)))
        >>> never.lists.tables == direct.lists.tables
        True
        """
        if self.tape is None:
            msg = "ModelTrainer.with_counts needs a trainer made with record=True"
            raise ValueError(msg)
        other = copy.copy(self)
        other.config = replace(self.config, counts=counts)
        other.merged = {}
        other.lists = PublishedLists(self.config.published)
        rules = self.lists.tables.get(BASKET_BASED)
        if rules:
            other.lists.tables[BASKET_BASED] = rules
        other.tape = None
        other.defer_lists = True
        # A kind whose counts settings are the same under both (SESSION_PAIRS keeps a
        # year's memory under every shorter one) would be counted the same: its finished
        # counts are shared (read-only from now on: ``top`` gives the same list to both).
        same = _same_counts(self.config.counts, counts)
        with collector_paused():
            for at_ms, deltas in self.tape:
                other._merge(deltas, at_ms, self.merged, same)
        return other

    def mine_rules(self, valid_from_ms: int) -> int:
        """Mine the remembered baskets within the budget and publish every antecedent's
        rules; return how many rules there are. :attr:`rules_note` says whether the
        support threshold had to be raised."""
        mined = mine_within_budget(self.baskets, self.config.offline_rules, self.budget)
        index = RuleIndex(mined.result.rules)
        antecedents = sorted({rule.antecedents for rule in mined.result.rules})
        for antecedent in antecedents:
            rules = tuple(RuleSummary(r.consequent, r.support, r.confidence, r.lift,
                                      r.interestingness, r.count)
                          for r in index.for_antecedent(antecedent))
            self.lists.apply(AntecedentRules(antecedent, rules, valid_from_ms - 1))
        self.rules_note = (f"min support raised to {mined.min_support_used:g}"
                           if mined.raised else "")
        return len(mined.result.rules)


#: Every kind a :class:`~shopstream.recommend.pairs.PairLearner` counts.
_COUNTED = (NEXT_ITEM, CO_OCCURRENCE, CROSS_SELL, POPULAR, SESSION_PAIRS)


def _same_counts(one: CountsConfig, other: CountsConfig) -> frozenset[str]:
    """The kinds counted alike under ``one`` and ``other``.

    Examples
    --------
    >>> day = 86_400_000
    >>> sorted(_same_counts(CountsConfig(half_life_ms=14 * day),
    ...                     CountsConfig(half_life_ms=90 * day)))
    ['SESSION_PAIRS']
    >>> sorted(_same_counts(CountsConfig(half_life_ms=14 * day), CountsConfig(half_life_ms=0)))
    []
    """
    return frozenset(kind for kind in _COUNTED
                     if counts_config(kind, one) == counts_config(kind, other))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a training builds its model: its
    collections would scan every object the training made so far (the counts, the
    recorded merges) again and again, and a training makes no reference cycles to
    collect (learning the fit split of the Instacart sample for ``shopstream evaluate
    --tune --tune-memory``: 26.3 s of CPU with the collector, 15.5 s without).
    Reference counting frees as usual; the collector's state is restored on leaving.

    Examples
    --------
    >>> enabled = gc.isenabled()
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled() == enabled
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
