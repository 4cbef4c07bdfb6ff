"""The records between a shopstream job's Flink operators, and the side outputs they use.

Records between functions carry their event time with them: ``(timestamp_ms, record)``
pairs, so a downstream stage sees the time its upstream element or timer had (as on the
embedded runner), whatever timestamp Flink put on the stream record. A reference record
(a catalog change) travels as ``(effective_ms, record, stream)``: the stage that receives
it forwards it to the stages reading ``stream`` at once, without handing it to its own
operators.

A keyed record's pair (or reference record) travels as bytes of this module's own codec
(:func:`encode_pair` / :func:`decode_pair`), not as PyFlink's pickled type: an event (the
record every stage reading ``events`` gets) as MessagePack (msgspec, typed), anything
else pickled. The decoder encodes an event once for all its readers; PyFlink's pickled
type would pickle it once per reader, and pickling an event costs about 7 times what
MessagePack does, unpickling 4 times.

Examples
--------
>>> from shopstream.events.model import EventType, ShopperEvent
>>> event = ShopperEvent(EventType.PAGE_VIEW, 1_000, "s-1", user_id="U1")
>>> data = encode_pair(1_000, event)
>>> data[:1], decode_pair(data) == (1_000, event)
(b'e', True)
>>> decode_pair(data)[1] is event  # encoded lately in this interpreter: not decoded again
True
>>> decode_pair(encode_pair(7, ("basket", 3)))
(7, ('basket', 3))
>>> [tag_named(name).tag_id for name in ("shopstream-sink", "stage-3", "broadcast-4",
...                                      "events-2")]
['shopstream-sink', 'stage-3', 'broadcast-4', 'events-2']
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import msgspec
from pyflink.common import Row, RowKind, Types
from pyflink.datastream import OutputTag

from shopstream.errors import ShopstreamError
from shopstream.events.model import ShopperEvent

__all__ = ["DECODED_TYPE", "KEYED_TYPE", "RECENT_EVENTS", "SINK_TAG", "Route", "broadcast_tag",
           "decode_pair", "encode_pair", "events_tag", "row", "stage_tag", "tag_named"]

#: Every output record: ``Row(stream, json)`` (a Row, so that the Kafka sink's Java topic
#: selector can read the stream name from its first column).
SINK_TAG = OutputTag("shopstream-sink", Types.ROW([Types.STRING(), Types.STRING()]))

#: What a keyed stage reads: ``Row(key, encode_pair(timestamp_ms, record))``, keyed on
#: field 0 by Flink's own Java key selector, so no Python operator runs just to compute
#: keys. The bytes pass between Python and Java as they are (no PyFlink pickling).
KEYED_TYPE = Types.ROW([Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())])

#: What the decoder sends towards a keyed stage: the keyed record and its event time, which
#: Flink's Java timestamp assigner reads (then drops) to make the watermark.
DECODED_TYPE = Types.TUPLE([KEYED_TYPE, Types.LONG()])

#: ``(stream, consumer stage index, consumer key function)``: where a stream's records go;
#: a key function of ``None`` is a broadcast input (every parallel instance gets the pair).
#: (Indexes, not tags: an OutputTag holding a Java type cannot be pickled with a function.)
Route = tuple[str, int, Callable[[Any], str] | None]


_EVENT = ord("e")
_encode_event = msgspec.msgpack.Encoder().encode
_decode_event = msgspec.msgpack.Decoder(ShopperEvent).decode

#: Events encoded last in this interpreter that :func:`decode_pair` hands back as they are,
#: without decoding (events are frozen, and the embedded runner too gives every operator
#: the same object). In thread mode one interpreter runs every Python operator of a
#: TaskManager, so the stages reading events on the decoder's TaskManager get its objects
#: instead of decoding each event once per stage group (four in the default pipeline);
#: elsewhere (another TaskManager, an event older than the last ``RECENT_EVENTS``) they
#: decode it. The cost is memory: up to ``RECENT_EVENTS`` events and their encoded bytes
#: per interpreter (about 1.3 kB an event with the simulator's events, some 43 MB in all:
#: ~950 bytes the event, ~290 its MessagePack, the rest the dict's entry).
RECENT_EVENTS = 32_768
_recent: dict[bytes, ShopperEvent] = {}


def encode_pair(timestamp_ms: int | None, record: Any) -> bytes:
    """``(timestamp_ms, record)`` (or a reference record's triple, given as ``record``
    with ``timestamp_ms`` of ``None``) as the bytes of a keyed record: ``b"e"`` and
    MessagePack for an event at its own time, ``b"p"`` and a pickle otherwise."""
    if type(record) is ShopperEvent and record.timestamp_ms == timestamp_ms:
        data = b"e" + _encode_event(record)
        recent = _recent
        recent[data] = record
        while len(recent) > RECENT_EVENTS:
            # The oldest go until the cache is back at its cap. Another thread may take
            # the same one first (pop's default) or change the dict under the iterator
            # (RuntimeError): look again; the length check ends the loop either way.
            try:
                recent.pop(next(iter(recent)), None)
            except RuntimeError:
                continue
        return data
    return b"p" + pickle.dumps(record if timestamp_ms is None else (timestamp_ms, record),
                               protocol=pickle.HIGHEST_PROTOCOL)


def decode_pair(data: bytes) -> tuple[Any, ...]:
    """What :func:`encode_pair` encoded: ``(timestamp_ms, record)`` or the triple."""
    if data[0] == _EVENT:
        event = _recent.get(data) if type(data) is bytes else None
        if event is None:
            event = _decode_event(memoryview(data)[1:])
        return event.timestamp_ms, event
    return pickle.loads(memoryview(data)[1:])  # type: ignore[no-any-return]


_new_object = object.__new__
_INSERT = RowKind.INSERT


def row(first: Any, second: Any) -> Row:
    """``Row(first, second)``, made without ``Row.__init__`` and its three guarded
    ``__setattr__`` calls (half the cost; every record a stage sends is one).

    >>> row("k", b"x") == Row("k", b"x"), row("k", b"x")[1]
    (True, b'x')
    """
    made = _new_object(Row)
    made.__dict__.update(_values=[first, second], _from_dict=False, _row_kind=_INSERT)
    return made


def stage_tag(index: int) -> OutputTag:
    """The side output carrying the keyed input of stage group ``index`` from its producers."""
    return OutputTag(f"stage-{index}", KEYED_TYPE)


def broadcast_tag(index: int) -> OutputTag:
    """The side output carrying the broadcast input (``(timestamp_ms, record)``) of stage
    group ``index`` from its producers."""
    return OutputTag(f"broadcast-{index}", Types.PICKLED_BYTE_ARRAY())


def events_tag(index: int) -> OutputTag:
    """The decoder's side output of events for stage group ``index`` (not the first group
    reading events, which takes the main output), watermarked on its own."""
    return OutputTag(f"events-{index}", DECODED_TYPE)


def tag_named(name: str) -> OutputTag:
    """The output tag called ``name`` (a stage's outputs travel by tag name through
    :class:`~shopstream.runners.flink.broadcast.Demux`)."""
    if name == SINK_TAG.tag_id:
        return SINK_TAG
    kind, _, index = name.rpartition("-")
    makers = {"stage": stage_tag, "broadcast": broadcast_tag, "events": events_tag}
    if kind not in makers or not index.isdigit():
        msg = f"the Flink runner has no output tag named {name!r}"
        raise ShopstreamError(msg)
    return makers[kind](int(index))
