"""The simulation: schedule sessions, generate them, merge their events in time order.

Sessions are generated in order of their start time and their events pushed on a heap;
an event is released once no session still to come can start before it, so the output
is globally sorted while memory stays bounded by the sessions in flight. With
``disorder_ms`` a second heap delays some events by up to that bound, the way network
paths reorder a real stream.

Examples
--------
>>> from shopstream.sim.config import SimulationConfig
>>> events = list(generate_events(SimulationConfig(sessions=20, seed=5, end_ms=10**12)))
>>> events[0].event_id, events[0].event_type
('e-5-0', <EventType.PAGE_VIEW: 'PAGE_VIEW'>)
>>> all(a.timestamp_ms <= b.timestamp_ms for a, b in zip(events, events[1:]))
True
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterator

from msgspec.structs import force_setattr

from shopstream.events.model import ShopperEvent
from shopstream.sim.catalog import Catalog, build_catalog
from shopstream.sim.config import SimulationConfig
from shopstream.sim.mix import MixController
from shopstream.sim.session import SessionContext, SessionGenerator
from shopstream.sim.shoppers import ShopperPool
from shopstream.sim.traffic import MINUTE_MS, session_starts

__all__ = ["SESSION_GAP_MS", "Simulation", "generate_events"]

SESSION_GAP_MS = 30 * MINUTE_MS
"""A shopper's next session starts more than this long after the previous one ended."""
_CAMPAIGNS = ("spring_sale", "newsletter_weekly", "google_shopping", "instagram_ads",
              "affiliate_deals", "retargeting_cart", "black_friday_preview")
_CAMPAIGN_SHARE = 0.22
_PICK_TRIES = 3  # shoppers tried before a new one is created for a session slot
_DISORDERED_SHARE = 0.3  # events that take a slow path when disorder_ms > 0


# (timestamp of the next event, session number, the session's events, next index)
_Live = tuple[int, int, list[ShopperEvent], int]
# (delivery time, arrival number, event)
_Delayed = tuple[int, int, ShopperEvent]


class Simulation:
    """One run of the simulator; iterate :meth:`deliveries` once.

    Attributes
    ----------
    catalog
        The catalog of this run (its affinities are the ground truth).
    end_ms
        The resolved end of the window.
    sessions_started, events
        Progress counters, updated while iterating.

    Examples
    --------
    >>> sim = Simulation(SimulationConfig(sessions=10, seed=2, end_ms=1_700_000_000_000))
    >>> batches = list(sim.event_batches())
    >>> sim.sessions_started, sim.events == sum(len(b) for b in batches)
    (10, True)
    >>> len(sim.catalog.bundles) > 0
    True
    """

    def __init__(self, config: SimulationConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        seed = config.seed
        self.end_ms = (config.end_ms if config.end_ms is not None
                       else int(time.time() // 60) * MINUTE_MS)
        # A given catalog (e.g. the one a shop database was generated from) replaces the
        # one the configuration describes.
        self.catalog: Catalog = catalog or build_catalog(seed, config.products,
                                                         config.categories)
        self.pool = ShopperPool(seed, self.catalog.categories, config.pool_size)
        self.mix = MixController()
        # Separate streams, so that e.g. changing the disorder leaves behaviour unchanged.
        self._rng_sched = random.Random(f"shopstream-schedule:{seed}")
        self._rng_jitter = random.Random(f"shopstream-disorder:{seed}")
        self.sessions = SessionGenerator(
            self.catalog, self.mix, random.Random(f"shopstream-sessions:{seed}"), seed,
            config.currency)
        self._id_prefix = f"e-{seed}-"
        self.sessions_started = 0
        self.events = 0
        self._slow: list[_Delayed] = []
        self._slow_seq = 0

    def deliveries(self) -> Iterator[tuple[int, ShopperEvent]]:
        """Every event with its delivery time (= its timestamp unless disordered)."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[tuple[int, ShopperEvent]]]:
        """The events of :meth:`deliveries`, a batch per session start (faster to consume)."""
        stamp = self._stamp
        if self.config.disorder_ms:
            for ready in self._sorted():
                yield [(due, stamp(e)) for due, e in self._disorder(ready)]
            yield [(due, stamp(e)) for due, e in self._drain_disordered()]
        else:
            for ready in self._sorted():
                yield [(e.timestamp_ms, stamp(e)) for e in ready]

    def event_batches(self) -> Iterator[list[ShopperEvent]]:
        """Like :meth:`batches` without the delivery times."""
        if self.config.disorder_ms:
            for batch in self.batches():
                yield [event for _, event in batch]
            return
        stamp = self._stamp
        for ready in self._sorted():
            yield [stamp(e) for e in ready]

    def _stamp(self, event: ShopperEvent) -> ShopperEvent:
        # Ids follow output order, so line n of a sorted file is e-<seed>-n. The event
        # was created moments ago and nobody else holds it yet, so setting the field of
        # the frozen struct in place is safe (and saves a copy per event).
        force_setattr(event, "event_id", self._id_prefix + str(self.events))
        self.events += 1
        return event

    def _sorted(self) -> Iterator[list[ShopperEvent]]:
        cfg = self.config
        seed = cfg.seed
        rng = self._rng_sched
        starts = session_starts(rng, cfg.sessions, self.end_ms - cfg.window_ms, self.end_ms)
        free_at: dict[int, int] = {}
        # One heap entry per session in flight, keyed by its next event: a k-way merge
        # with a heap a few times smaller than one entry per event would be.
        heap: list[_Live] = []
        replace, pop = heapq.heapreplace, heapq.heappop
        for n, start in enumerate(starts):
            # Sessions come in start order, so nothing still to come is older than start.
            ready: list[ShopperEvent] = []
            while heap and heap[0][0] < start:
                _, order, events, i = heap[0]
                ready.append(events[i])
                i += 1
                if i < len(events):
                    replace(heap, (events[i].timestamp_ms, order, events, i))
                else:
                    pop(heap)
            if ready:
                yield ready
            user = self._pick_shopper(start, free_at)
            shopper = self.pool.get(user)
            device, platform = self.pool.session_device(shopper, rng)
            campaign = rng.choice(_CAMPAIGNS) if rng.random() < _CAMPAIGN_SHARE else None
            ctx = SessionContext(f"s-{seed}-{n}", shopper.user_id, device, platform,
                                 shopper.country, shopper.region, campaign)
            events = self.sessions.generate(shopper, ctx, start)
            self.sessions_started += 1
            heapq.heappush(heap, (start, n, events, 0))
            free_at[user] = events[-1].timestamp_ms + SESSION_GAP_MS + 1_000 + int(
                rng.lognormvariate(9.2, 1.0) * 1_000)
        # merge is stable, so listing sessions in start order breaks ties as above.
        rest = sorted(heap, key=_session_number)
        yield list(heapq.merge(*(events[i:] for _, _, events, i in rest), key=_timestamp))

    def _pick_shopper(self, start: int, free_at: dict[int, int]) -> int:
        for _ in range(_PICK_TRIES):
            user = self.pool.pick(self._rng_sched)
            if free_at.get(user, 0) <= start:
                return user
        return self.pool.add()

    def _disorder(self, ready: list[ShopperEvent]) -> list[tuple[int, ShopperEvent]]:
        # An event is due once the newest released timestamp reaches its delivery time:
        # nothing still to come can be delivered earlier.
        slow = self._slow
        jitter = self._rng_jitter
        bound = self.config.disorder_ms
        out = []
        for event in ready:
            ts = event.timestamp_ms
            delay = 1 + int(jitter.random() * bound) if jitter.random() < _DISORDERED_SHARE else 0
            heapq.heappush(slow, (ts + delay, self._slow_seq, event))
            self._slow_seq += 1
            while slow and slow[0][0] <= ts:
                due, _, e = heapq.heappop(slow)
                out.append((due, e))
        return out

    def _drain_disordered(self) -> list[tuple[int, ShopperEvent]]:
        slow = self._slow
        return [(due, e) for due, _, e in (heapq.heappop(slow) for _ in range(len(slow)))]


def _timestamp(event: ShopperEvent) -> int:
    return event.timestamp_ms


def _session_number(live: _Live) -> int:
    return live[1]


def generate_events(config: SimulationConfig) -> Iterator[ShopperEvent]:
    """The good events of a simulation, in delivery order (timestamp order unless
    ``config.disorder_ms`` > 0). Malformed lines are added only by the line writer.

    Examples
    --------
    >>> cfg = SimulationConfig(sessions=5, seed=1, end_ms=1_700_000_000_000)
    >>> [e.event_id for e in generate_events(cfg)] == [
    ...     e.event_id for e in generate_events(cfg)]
    True
    >>> sum(e.event_type == "PAGE_VIEW" for e in generate_events(cfg))
    5
    """
    for batch in Simulation(config).event_batches():
        yield from batch
