"""Shoppers per behavioural segment, counted in key groups from ``segment-changes``.

Two-phase global work: each key group (a stable hash of the user id, ``segment_groups``
of them) counts its own shoppers; the API sums the groups' latest
:class:`~shopstream.profiles.records.SegmentCounts`. A change from ``previous`` to
``segment`` moves one shopper (``previous`` ``None``: a new shopper; ``segment`` ``None``:
a dropped profile). At the end of each slot with changes the group emits its counts and
the counts it had one day earlier (to the hour): the group keeps one snapshot per hour
of event time, at most 26 (so the state of a group is at most 26 x 6 counts).

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.pipeline import profile_stages
>>> from shopstream.runners.embedded.harness import run_topology
>>> from shopstream.topology import Topology
>>> config = ProfilesConfig(segment_groups=1)
>>> evs = [ShopperEvent(EventType.PAGE_VIEW, 0, "s1", user_id="u1"),
...        ShopperEvent(EventType.PAGE_VIEW, 1, "s2", user_id="u2"),
...        ShopperEvent(EventType.PURCHASE, 90_000_000, "s3", user_id="u1", price=20.0)]
>>> for o in run_topology(Topology(profile_stages(config), ("segment-counts",)), evs)[:3]:
...     print(o.record.computed_at, o.record.counts, o.record.day_ago)
0 {'browser': 1} None
60000 {'browser': 2} None
90000000 {'browser': 1, 'impulse_buyer': 1} {'browser': 2}
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from shopstream.events import streams
from shopstream.events.records import Output
from shopstream.operators.feature_catalog import slot_end
from shopstream.operators.profile_config import ProfilesConfig
from shopstream.profiles.records import SegmentChange, SegmentCounts
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["GroupCounts", "SegmentCountsOperator", "by_user_group"]

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_MAX_SNAPSHOTS = 26


def by_user_group(groups: int) -> Callable[[Any], str]:
    """Key of the segment counts: ``g{crc32(user id) % groups}``.

    Examples
    --------
    >>> by_user_group(16)(SegmentChange("u1", None, "buyer", 0))
    'g6'
    """
    def key(record: Any) -> str:
        return f"g{zlib.crc32(record.user_id.encode()) % groups}"
    return key


class GroupCounts(msgspec.Struct, gc=False):
    """Current counts of a group, hourly snapshots ``(hour start, counts)``, the pending
    emission time (-1: none)."""

    counts: dict[str, int] = msgspec.field(default_factory=dict)
    snapshots: list[tuple[int, dict[str, int]]] = msgspec.field(default_factory=list)
    timer_ms: int = -1


_COUNTS = ValueStateDescriptor[GroupCounts]("segment-counts")


class SegmentCountsOperator(KeyedOperator[SegmentChange]):
    """Keyed by user group: shoppers per segment (see module docs)."""

    name = "segment-counts"
    state_descriptors = (_COUNTS,)

    def __init__(self, config: ProfilesConfig | None = None) -> None:
        self.config = config or ProfilesConfig()

    def process_element(self, element: SegmentChange, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_COUNTS)
        group = state.value() or GroupCounts()
        counts = group.counts
        if element.previous is not None:
            left = counts.get(element.previous, 0) - 1
            if left > 0:
                counts[element.previous] = left
            else:
                counts.pop(element.previous, None)
        if element.segment is not None:
            counts[element.segment] = counts.get(element.segment, 0) + 1
        slot = slot_end(max(element.at, ctx.timestamp_ms), self.config.slide_ms)
        if group.timer_ms < 0:
            ctx.register_event_timer(slot)
            group.timer_ms = slot
        state.update(group)
        return ()

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_COUNTS)
        group = state.value()
        if group is None or group.timer_ms != timestamp_ms:
            return ()
        group.timer_ms = -1
        hour = timestamp_ms // _HOUR_MS * _HOUR_MS
        if not group.snapshots or group.snapshots[-1][0] != hour:
            group.snapshots.append((hour, dict(group.counts)))
            del group.snapshots[:-_MAX_SNAPSHOTS]
        else:
            group.snapshots[-1] = (hour, dict(group.counts))
        day_ago = None
        for start, counts in reversed(group.snapshots):
            if start <= timestamp_ms - _DAY_MS:
                day_ago = dict(counts)
                break
        state.update(group)
        return (Output(streams.SEGMENT_COUNTS, ctx.key,
                       SegmentCounts(ctx.key, timestamp_ms, dict(group.counts), day_ago,
                                     self.config.segment_groups)),)
