"""VIEW_BASED: session-based k-nearest neighbours over recent sessions.

In the spirit of SKNN, V-SKNN and STAN (Ludewig & Jannach 2018; Garg et al. 2019):

- the current session is a vector over its products where later products weigh more
  (position weight ``(i + 1) / n``, V-SKNN's linear decay); with ``idf``, each also
  times its inverse document frequency ``log(N / df)`` (``N`` sessions in the index,
  ``df`` of them holding the product: a product most sessions hold says little about
  which are alike);
- candidate neighbours are the most recent sessions holding any of its last products
  (at most ``sample_size``, and at most ``sample_size`` looked at per product), the
  session itself excluded;
- a neighbour's similarity is the weighted overlap divided by ``sqrt(n * m)`` (cosine),
  times ``0.5 ** (age / neighbour_half_life_ms)`` of event time since the neighbour was
  last active (STAN's recency of the neighbour; ``0``, the default, keeps every
  neighbour's full weight: the memory is chosen like the lists' on a validation split,
  see :mod:`shopstream.evaluation.tuning`; a 7-day half-life cost MovieLens-100k's
  sessions a third of their hits, 0.182 against 0.281 HR@20 on validation);
- each of the ``neighbours`` most similar sessions gives its other products its
  similarity, times ``0.5 ** (distance / position_half_life)`` where the distance is
  counted in products from the neighbour's latest shared product (products more than
  three half-lives away are skipped); with ``stan_anchor``, from the neighbour's
  position of the session's most recent product that the neighbour holds (STAN's
  position in the neighbour).

Measured on the validation splits (the latest 12.5% of the training sessions, 3,000
predictions, the memory chosen there: 90 days for MovieLens-100k, a year for Instacart;
the test split not looked at), session k-NN's HR@20: STAN's anchor raises MovieLens
from 0.277 to 0.288 and Instacart from 0.076 to 0.080; the IDF weights on top raise
MovieLens to 0.294 but lower Instacart to 0.073. On the test split (k-NN alone) the
anchor gives MovieLens 0.2595 -> 0.2689 and Instacart 0.0873 -> 0.0910. But the tuned
blend that may weigh session k-NN (``evaluate --tune --blend-knn``) does not gain on
MovieLens' validation split: 0.300 with the default k-NN against 0.293 with STAN's
anchor (one round over co-occurrence, session pairs, next items, affinity and k-NN),
0.3013 against 0.302 with the anchor-and-IDF k-NN added to every strategy (noise about
0.008). Both are therefore off by default.

The index is kept incrementally by :meth:`SessionKnn.learn_one`: a session's product
list and, per product, the latest sessions holding it; the oldest sessions are forgotten
beyond ``max_sessions``. :meth:`SessionKnn.with_half_life` gives views of one index with
other neighbour recencies (the memories the evaluation's tuning tries): they share the
index and the candidates of the latest query, so one context asked of every view scans
the index once.

Cost of one prediction, whatever the history: at most ``query_items * per_item`` index
entries scanned, ``sample_size`` candidate sessions scored, and ``neighbours * (2 *
ceil(3 * position_half_life) + 1)`` votes; memory: ``max_sessions`` sessions (each
product once), ``per_item`` session ids and one count (of sessions holding it) per
product.

Examples
--------
>>> knn = SessionKnn()
>>> for sid, items in [("a", "xyz"), ("b", "xyw"), ("c", "qr")]:
...     for t, p in enumerate(items):
...         knn.learn_one(Step(sid, "u", p, "VIEW_PRODUCT", t))
>>> ctx = RecContext("now", "u", ("x", "y"), frozenset(), 10)
>>> [s.product_id for s in knn.rank(ctx, 3)]
['w', 'z']
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import OrderedDict, deque
from itertools import islice
from typing import Any

from shopstream.errors import ConfigError
from shopstream.recommend.base import VIEW_BASED, RecContext, Recommender, Scored, Step, top_k

__all__ = ["SessionKnn"]


class _Session:
    __slots__ = ("items", "last_ms", "positions")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.positions: dict[str, int] = {}
        self.last_ms = 0


class SessionKnn(Recommender):
    """Session neighbours; see the module documentation for the scoring.

    Parameters
    ----------
    neighbours
        How many most similar sessions vote (k of k-NN).
    sample_size
        Candidate sessions considered per request (the most recent ones).
    max_sessions
        Sessions kept in the index; the least recently active are forgotten first.
    per_item
        Latest sessions remembered per product.
    query_items
        Only the session's latest this many products are matched.
    neighbour_half_life_ms
        Event time after which a neighbour's vote halves; 0 (the default): never.
    position_half_life
        Distance in products after which a neighbour's product's vote halves.
    idf
        Weigh the session's products by their inverse document frequency (off by
        default: see the module documentation).
    stan_anchor
        Centre a neighbour's votes on its position of the session's most recent product
        it holds (off by default: see the module documentation).
    """

    name = VIEW_BASED

    def __init__(self, neighbours: int = 100, sample_size: int = 500,
                 max_sessions: int = 20_000, per_item: int = 200, query_items: int = 10,
                 neighbour_half_life_ms: int = 0,
                 position_half_life: float = 4.0, idf: bool = False,
                 stan_anchor: bool = False) -> None:
        for label, value in (("neighbours", neighbours), ("sample_size", sample_size),
                             ("max_sessions", max_sessions), ("per_item", per_item),
                             ("query_items", query_items),
                             ("position_half_life", position_half_life)):
            if value <= 0:
                msg = f"SessionKnn.{label} must be > 0, got {value!r}"
                raise ConfigError(msg)
        if neighbour_half_life_ms < 0:
            msg = f"SessionKnn.neighbour_half_life_ms must be >= 0, got {neighbour_half_life_ms!r}"
            raise ConfigError(msg)
        self.neighbours = neighbours
        self.sample_size = sample_size
        self.max_sessions = max_sessions
        self.per_item = per_item
        self.query_items = query_items
        self.neighbour_half_life_ms = neighbour_half_life_ms
        self.position_half_life = position_half_life
        self.idf = idf
        self.stan_anchor = stan_anchor
        # Products farther than three half-lives from the anchor would add under 1/8 of
        # a vote each: they are not visited, so long sessions cost no more than short.
        self._reach = math.ceil(3 * position_half_life)
        self._position_votes = [0.5 ** (d / position_half_life) for d in range(self._reach + 1)]
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._by_item: dict[str, deque[str]] = {}
        #: sessions in the index holding each product (for the IDF weights)
        self._holding: dict[str, int] = {}
        #: ``[(session id, query), candidates]`` of the latest query, shared by the
        #: views of :meth:`with_half_life`; emptied when the index learns
        self._memo: list[Any] = [None, {}]

    def __len__(self) -> int:
        return len(self._sessions)

    def learn_one(self, step: Step) -> None:
        self._memo[0] = None
        sessions = self._sessions
        session = sessions.get(step.session_id)
        if session is None:
            session = sessions[step.session_id] = _Session()
            if len(sessions) > self.max_sessions:
                # its ids in _by_item are skipped lazily
                _, forgotten = sessions.popitem(last=False)
                holding = self._holding
                for product in forgotten.items:
                    left = holding[product] - 1
                    if left:
                        holding[product] = left
                    else:
                        del holding[product]
        else:
            sessions.move_to_end(step.session_id)
        session.last_ms = max(session.last_ms, step.timestamp_ms)
        product = step.product_id
        if product in session.positions:
            return
        session.positions[product] = len(session.items)
        session.items.append(product)
        holders = self._by_item.get(product)
        if holders is None:
            holders = self._by_item[product] = deque(maxlen=self.per_item)
        holders.append(step.session_id)
        self._holding[product] = self._holding.get(product, 0) + 1

    def with_half_life(self, neighbour_half_life_ms: int) -> SessionKnn:
        """This index seen with another neighbour recency: a view that shares the index
        (and its learning) and the candidates of the latest query (see
        :meth:`candidates`), so that asking every view in turn for one context scans the
        index once. Each view ranks exactly as a :class:`SessionKnn` with that half-life
        trained on the same input.

        Examples
        --------
        >>> knn = SessionKnn()
        >>> for t, p in enumerate("xyzxw"):
        ...     knn.learn_one(Step("old" if t < 3 else "new", "u", p, "VIEW_PRODUCT",
        ...                        t * 1_000))
        >>> ctx = RecContext("now", "u", ("x",), frozenset(), 10_000)
        >>> [(s.product_id, round(s.score, 3)) for s in knn.rank(ctx, 3)]
        [('w', 0.595), ('y', 0.485), ('z', 0.408)]
        >>> fast = knn.with_half_life(1_000)
        >>> [(s.product_id, round(s.score, 4)) for s in fast.rank(ctx, 3)]
        [('w', 0.0093), ('y', 0.0019), ('z', 0.0016)]
        """
        if neighbour_half_life_ms < 0:
            msg = f"SessionKnn.neighbour_half_life_ms must be >= 0, got {neighbour_half_life_ms!r}"
            raise ConfigError(msg)
        view = copy.copy(self)
        view.neighbour_half_life_ms = neighbour_half_life_ms
        return view

    def candidates(self, context: RecContext) -> dict[str, float]:
        """The candidate neighbours of ``context``'s query and each one's weighted
        overlap with it (read-only: the views of :meth:`with_half_life` share the latest
        answer until the query or the index changes)."""
        query = context.items[-self.query_items:]
        key = (context.session_id, query)
        memo = self._memo
        if memo[0] == key:
            found: dict[str, float] = memo[1]
            return found
        n = len(query)
        sessions, by_item = self._sessions, self._by_item
        own = context.session_id
        # Inverted-index pass: the weighted overlap of each candidate, latest query
        # products first, at most `sample_size` candidates.
        overlap: dict[str, float] = {}
        budget = scan = self.sample_size
        holding, total = self._holding, len(sessions)
        for index in range(n - 1, -1, -1):
            product = query[index]
            holders = by_item.get(product)
            held = holding.get(product)
            if not holders or not held:  # no session of the index holds it now
                continue
            weight = (index + 1) / n
            if self.idf:
                weight *= math.log(total / held)
            for sid in islice(reversed(holders), scan):
                seen = overlap.get(sid)
                if seen is not None:
                    overlap[sid] = seen + weight
                elif budget > 0 and sid != own and sid in sessions:
                    budget -= 1
                    overlap[sid] = weight
        memo[0], memo[1] = key, overlap
        return overlap

    def rank(self, context: RecContext, k: int) -> list[Scored]:
        query = context.items[-self.query_items:]
        if not query:
            return []
        overlap = self.candidates(context)
        if not overlap:
            return []
        n = len(query)
        sessions = self._sessions
        now, half_life = context.now_ms, self.neighbour_half_life_ms
        similarity: list[tuple[float, str]] = []
        for sid, shared in overlap.items():
            neighbour = sessions[sid]
            age = now - neighbour.last_ms
            decay = 0.5 ** (age / half_life) if age > 0 and half_life else 1.0
            similarity.append((shared * decay / math.sqrt(n * len(neighbour.items)), sid))
        best = heapq.nlargest(self.neighbours, similarity)
        scores: dict[str, float] = {}
        get = scores.get
        queried = set(query)
        reach = self._reach
        # 0.5 ** (distance / position_half_life), the same float as computed each time
        position_votes = self._position_votes
        for sim, sid in best:
            neighbour = sessions[sid]
            positions = neighbour.positions
            if self.stan_anchor:  # the neighbour's position of the latest it holds
                at = next((positions[p] for p in reversed(query) if p in positions), -1)
            else:
                at = max(positions.get(p, -1) for p in query)
            items = neighbour.items
            low = max(0, at - reach)
            for position in range(low, min(len(items), at + reach + 1)):
                product = items[position]
                if product in queried:
                    continue
                vote = sim * position_votes[abs(position - at)]
                scores[product] = get(product, 0.0) + vote
        return top_k(scores, k, context)
