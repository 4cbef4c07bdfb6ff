"""The codec of keyed records between Flink operators (``tags.encode_pair``): an event
crosses as MessagePack and comes back equal, field for field and type for type (the JSON
every output is written in is the same), from every event source the tests use; anything
else crosses pickled."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

pytest.importorskip("pyflink.datastream")

from shopstream.errors import DecodeError
from shopstream.events.decode import EventDecoder
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output
from shopstream.runners.flink.tags import decode_pair, encode_pair
from shopstream.sim import SimulationConfig
from shopstream.sim.wire import generate_lines

_GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "data"


def _events() -> list[ShopperEvent]:
    decoder = EventDecoder(None)
    lines = list(generate_lines(SimulationConfig(sessions=400, seed=5)))
    lines += [line for path in sorted(_GOLDEN.rglob("*.jsonl"))
              for line in path.read_bytes().splitlines()]
    events = []
    for line in lines:
        try:
            event = decoder.decode(line.strip())
        except DecodeError:  # lines of other shapes (dead letters) are skipped
            continue
        events.append(event)
    return events


def test_events_cross_as_messagepack_unchanged() -> None:
    events = _events()
    assert len(events) > 1_000
    encode = msgspec.json.Encoder().encode
    for event in events:
        data = encode_pair(event.timestamp_ms, event)
        assert data[:1] == b"e"
        ts, back = decode_pair(data)
        assert ts == event.timestamp_ms and back == event
        assert encode(back) == encode(event)
        assert [type(v) for v in msgspec.structs.astuple(back)] == \
            [type(v) for v in msgspec.structs.astuple(event)]


def test_other_records_and_events_at_other_times_cross_pickled() -> None:
    event = _events()[0]
    for pair in ((event.timestamp_ms + 1, event), (5, Output("x", "k", {"a": (1, 2.0)}))):
        data = encode_pair(*pair)
        assert data[:1] == b"p" and decode_pair(data) == pair
    reference = (9, event, "catalog-changes")
    assert decode_pair(encode_pair(None, reference)) == reference


def test_recent_events_cache_never_stays_over_its_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two threads evicting the same oldest entry left the old code one over its cap for
    # good (it evicted one per insert); an insert now brings the cache back to its cap.
    from shopstream.runners.flink import tags

    events = _events()[:40]
    monkeypatch.setattr(tags, "RECENT_EVENTS", 8)
    monkeypatch.setattr(tags, "_recent", {})
    for event in events[:10]:  # the state such a race leaves: over the cap
        tags._recent[b"e" + tags._encode_event(event)] = event
    for event in events[10:]:
        encode_pair(event.timestamp_ms, event)
        assert len(tags._recent) <= 8
    assert list(tags._recent.values()) == events[-8:]
