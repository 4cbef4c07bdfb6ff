"""Run operators on in-memory events with the real engine: for tests and doctests.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.operators.baskets import BasketTracker
>>> evs = [ShopperEvent(EventType.ADD_TO_CART, 0, "s", product_id="p", price=1.0)]
>>> [o.record.status for o in run_operator(BasketTracker(), evs, key_by=lambda e: e.session_id)]
['ABANDONED']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.runners.embedded.engine import Engine
from shopstream.state.operator import KeyedOperator
from shopstream.topology import Stage, Topology

__all__ = ["run_operator", "run_topology"]


def run_topology(topology: Topology, events: Iterable[ShopperEvent],
                 out_of_orderness_ms: int = 5_000) -> list[Output]:
    """Every sink output of ``topology`` for ``events``, to end of input, in emit order."""
    collected: list[Output] = []
    engine = Engine(topology, out_of_orderness_ms, collected.append)
    for event in events:
        engine.offer(event)
        engine.drain()
    engine.finish()
    return collected


def run_operator(operator: KeyedOperator[Any], events: Iterable[ShopperEvent],
                 key_by: Callable[[Any], str], out_of_orderness_ms: int = 5_000,
                 sink_streams: Iterable[str] | None = None) -> list[Output]:
    """Run one operator on ``events`` and return what it emitted (and any late events).

    By default every stream except the internal ones (``streams.INTERNAL``) is collected.
    """
    stage = Stage(operator, inputs=(streams.EVENTS,), key_by=key_by)
    sinks = tuple(sink_streams) if sink_streams is not None else _ALL_STREAMS
    return run_topology(Topology((stage,), sinks), events, out_of_orderness_ms)


_ALL_STREAMS = tuple(v for k, v in vars(streams).items()
                     if k.isupper() and isinstance(v, str) and v not in streams.INTERNAL)
