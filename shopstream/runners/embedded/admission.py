"""How a decoded event enters the embedded engine.

A file is a replay: an event far ahead of the newest accepted one is held, then accepted
or refused (:mod:`shopstream.events.time_window`), and a refused one goes to the
dead-letter output with the reason. Other sources are checked against the ingest clock by
the decoder, so their events enter at once. Memory: what the progress window holds, at
most ``confirm_events`` events.

Examples
--------
>>> from shopstream.events.limits import InputLimits
>>> from shopstream.pipeline import default_topology
>>> engine = Engine(default_topology(), 0, lambda out: None)
>>> entered = []
>>> offer, window = admission(engine, entered.append, InputLimits(max_ahead_ms=None),
...                           bytes, lambda out: None, "in", Tally(), replay=True)
>>> offer("an event", b"raw", 0); entered, window
(['an event'], None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shopstream.events import streams
from shopstream.events.limits import LIMIT_STAGE, InputLimits
from shopstream.events.records import DeadLetter, Output
from shopstream.events.time_window import ProgressWindow, Refusal
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.summary import Tally

__all__ = ["NO_EVENT_MS", "Offer", "admission", "refuse"]

#: Engine.max_timestamp_ms before the first event (also after restoring such a checkpoint).
NO_EVENT_MS = -(2**63)

#: ``offer(event, raw, position)``: one decoded event with its line and position.
Offer = Callable[[Any, bytes, Any], None]


def admission(engine: Engine, engine_offer: Callable[[Any], None],
              limits: InputLimits, redact: Callable[[bytes], bytes],
              emit: Callable[[Output], None], origin: str, tally: Tally, replay: bool,
              ) -> tuple[Offer, ProgressWindow | None]:
    """The ``offer`` function of a run and its progress window (``None`` when events enter
    at once: not a ``replay`` of a file, or no ``limits.max_ahead_ms``)."""
    ahead = limits.max_ahead_ms
    if ahead is None or not replay:
        def offer_now(event: Any, raw: bytes, position: Any) -> None:
            engine_offer(event)
        return offer_now, None
    window = ProgressWindow(ahead, limits.confirm_events)
    admit = window.admit
    held = engine.held_kinds  # reference data enters at once

    def offer(event: Any, raw: bytes, position: Any) -> None:
        newest = engine.max_timestamp_ms
        if (not window.held and event.timestamp_ms <= newest + ahead) \
                or event.event_type in held:
            engine_offer(event)
            return
        accepted, refused = admit(event, raw, position,
                                  None if newest == NO_EVENT_MS else newest)
        if refused:
            refuse([r._replace(raw=redact(r.raw)) for r in refused], emit, origin, tally)
        for each in accepted:
            engine_offer(each)

    return offer, window


def refuse(refused: list[Refusal], emit: Callable[[Output], None], origin: str,
           tally: Tally) -> None:
    """Send ``refused`` events to the dead-letter output, counted in ``tally``."""
    for raw, position, reason in refused:
        tally.dead_letters += 1
        emit(Output(streams.DEAD_LETTER, origin, DeadLetter.of_bytes(
            LIMIT_STAGE, reason, raw, origin, position if isinstance(position, int) else -1)))
