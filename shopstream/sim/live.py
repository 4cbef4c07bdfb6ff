"""Simulated traffic in real time: events restamped to the wall clock and paced.

Examples
--------
>>> from shopstream.sim.config import SimulationConfig
>>> clock = iter(range(0, 10_000)).__next__
>>> batches = paced_batches(SimulationConfig(sessions=3, seed=1, end_ms=1_700_000_000_000),
...                         rate=1_000, now=lambda: clock() / 1000, sleep=lambda s: None)
>>> first = next(batches)
>>> len(first) >= 1 and all(e.timestamp_ms < 20_000 for e in first)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import msgspec

from shopstream.errors import ConfigError
from shopstream.events.model import ShopperEvent
from shopstream.sim.config import SimulationConfig
from shopstream.sim.engine import Simulation

__all__ = ["paced_batches"]


def paced_batches(config: SimulationConfig, rate: float, batch_seconds: float = 0.1,
                  now: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep,
                  ) -> Iterator[list[ShopperEvent]]:
    """The simulation's events at ``rate`` per second, in batches every ``batch_seconds``.

    Each event is stamped with the wall-clock time it is released at, less its simulated
    delivery delay, so out-of-order deliveries stay out of order.
    """
    if rate <= 0:
        msg = f"paced_batches: rate must be > 0, got {rate!r}"
        raise ConfigError(msg)
    t0 = now()
    batch: list[ShopperEvent] = []
    next_flush = t0 + batch_seconds
    for sent, (delivery, event) in enumerate(Simulation(config).deliveries()):
        wait = t0 + sent / rate - now()
        if wait > 0:
            if batch:
                yield batch
                batch = []
            sleep(wait)
        stamp = max(0, int(now() * 1000) - (delivery - event.timestamp_ms))
        batch.append(msgspec.structs.replace(event, timestamp_ms=stamp))
        if now() >= next_flush:
            next_flush = now() + batch_seconds
            yield batch
            batch = []
    if batch:
        yield batch
