"""Events posted to the API, decoded the way input files are: the ones that decode, and
why each of the others did not.

Examples
--------
>>> from shopstream.events.decode import EventDecoder
>>> events, problems = validate_raw(EventDecoder(), [b"not json"])
>>> events, problems[0].index, problems[0].stage
([], 0, 'decode')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.model import ShopperEvent

__all__ = ["EventRejection", "validate_raw"]


@dataclass(frozen=True)
class EventRejection:
    """Why event number ``index`` of a request was refused."""

    index: int
    stage: str
    reason: str


def validate_raw(decoder: EventDecoder, raws: Sequence[bytes],
                 ) -> tuple[list[ShopperEvent], list[EventRejection]]:
    """The events of ``raws`` that decode, and why each of the others did not (one pass,
    no state kept)."""
    events: list[ShopperEvent] = []
    problems: list[EventRejection] = []
    decode = decoder.decode
    for index, raw in enumerate(raws):
        try:
            events.append(decode(raw))
        except DecodeError as exc:
            problems.append(EventRejection(index, exc.stage, str(exc)))
    return events, problems
