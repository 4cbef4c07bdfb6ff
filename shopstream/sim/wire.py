"""From events to JSONL lines: ISO-8601 timestamps and malformed lines mixed in on request.

Malformed lines are *added* before good ones (never substituted for them), and they and
the ISO timestamps draw on their own random streams, so the good events of a run are the
same whatever ``bad_rate`` or ``iso_timestamp_rate`` is.

Examples
--------
>>> from shopstream.sim.config import SimulationConfig
>>> cfg = SimulationConfig(sessions=3, seed=1, end_ms=1_700_000_000_000)
>>> lines = list(generate_lines(cfg))
>>> lines[0][:44]
b'{"eventType":"PAGE_VIEW","timestamp":1699997'
>>> format_iso_ms(1_700_000_000_123)
'2023-11-14T22:13:20.123Z'
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from shopstream.events.model import ShopperEvent
from shopstream.sim.badlines import BadKind, bad_line
from shopstream.sim.config import SimulationConfig
from shopstream.sim.engine import Simulation

__all__ = ["LineEncoder", "format_iso_ms", "generate_lines"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_iso_ms(ts_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with millisecond precision and a ``Z``.

    Examples
    --------
    >>> format_iso_ms(0)
    '1970-01-01T00:00:00.000Z'
    """
    text = (_EPOCH + timedelta(milliseconds=ts_ms)).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class LineEncoder:
    """Encodes events as JSON lines, adding malformed lines and ISO timestamps.

    Parameters
    ----------
    seed
        Seeds the streams that decide which lines are bad or carry ISO timestamps.
    bad_rate
        Expected fraction of all lines that are malformed, in ``[0, 1)``.
    iso_timestamp_rate
        Fraction of good lines whose ``timestamp`` is an ISO-8601 string.

    Examples
    --------
    >>> from shopstream.events.model import EventType, ShopperEvent
    >>> enc = LineEncoder(seed=1, iso_timestamp_rate=1.0)
    >>> buf = bytearray()
    >>> enc.append(ShopperEvent(EventType.PAGE_VIEW, 1_000, "s1", "e1"), buf)
    1
    >>> bytes(buf)
    b'{"eventType":"PAGE_VIEW","timestamp":"1970-01-01T00:00:01.000Z","sessionId":"s1","eventId":"e1","userId":"s1"}\\n'
    """

    def __init__(self, seed: int, bad_rate: float = 0.0,
                 iso_timestamp_rate: float = 0.0) -> None:
        self.seed = seed
        self.bad_rate = bad_rate
        self.iso_timestamp_rate = iso_timestamp_rate
        self.good_lines = 0
        self.bad_lines = 0
        self.iso_lines = 0
        self.bad_kinds: Counter[BadKind] = Counter()
        self._encoder = msgspec.json.Encoder()
        self._rng_bad = random.Random(f"shopstream-bad:{seed}")
        self._rng_iso = random.Random(f"shopstream-iso:{seed}")
        self._cycle: list[BadKind] = []

    def append(self, event: ShopperEvent, buf: bytearray) -> int:
        """Append ``event``'s line (after any bad lines) to ``buf``; return lines added."""
        added = 1
        if self.bad_rate:
            # A geometric number of bad lines before each good one makes their expected
            # share of all lines exactly bad_rate.
            while self._rng_bad.random() < self.bad_rate:
                buf += self._bad(event)
                buf += b"\n"
                added += 1
        if self.iso_timestamp_rate and self._rng_iso.random() < self.iso_timestamp_rate:
            fields: dict[str, Any] = msgspec.to_builtins(event)
            fields["timestamp"] = format_iso_ms(event.timestamp_ms)
            self._encoder.encode_into(fields, buf, -1)
            self.iso_lines += 1
        else:
            self._encoder.encode_into(event, buf, -1)
        buf += b"\n"
        self.good_lines += 1
        return added

    def extend(self, events: list[ShopperEvent], buf: bytearray) -> int:
        """Append the lines of several events to ``buf``; return lines added."""
        if self.bad_rate or self.iso_timestamp_rate:
            return sum(self.append(event, buf) for event in events)
        # The common case in one C call.
        buf += self._encoder.encode_lines(events)
        self.good_lines += len(events)
        return len(events)

    def _bad(self, event: ShopperEvent) -> bytes:
        # Kinds come in shuffled rounds, so any nine consecutive bad lines cover all.
        if not self._cycle:
            self._cycle = list(BadKind)
            self._rng_bad.shuffle(self._cycle)
        kind = self._cycle.pop()
        self.bad_kinds[kind] += 1
        line_id = f"b-{self.seed}-{self.bad_lines}"
        self.bad_lines += 1
        return bad_line(kind, event, line_id, self._rng_bad)


def generate_lines(config: SimulationConfig) -> Iterator[bytes]:
    """Every output line of a simulation, without trailing newlines.

    Examples
    --------
    >>> from shopstream.sim.config import SimulationConfig
    >>> cfg = SimulationConfig(sessions=50, seed=2, end_ms=10**12, bad_rate=0.2)
    >>> lines = list(generate_lines(cfg))
    >>> sum(line.startswith(b'{"eventType"') for line in lines) < len(lines)
    True
    """
    encoder = LineEncoder(config.seed, config.bad_rate, config.iso_timestamp_rate)
    buf = bytearray()
    for _, event in Simulation(config).deliveries():
        encoder.append(event, buf)
        yield from bytes(buf).splitlines()
        buf.clear()
