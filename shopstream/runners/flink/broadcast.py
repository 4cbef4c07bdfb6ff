"""Stages with broadcast inputs on Flink: a keyed stream connected to a broadcast stream.

Flink forbids keyed state and timers in ``processBroadcastElement`` and does not order the
broadcast input against the keyed one, so updates are applied by event time, not arrival:

* an update arrives as ``(t, record)`` (``t``: the event time of the upstream element or
  timer that emitted it; for a catalog change, its effective time) and waits in a
  per-instance queue;
* before the stage handles anything at time ``u`` (an element or a timer of any key), it
  hands the operators every queued update with ``t <= u``, in ``(t, arrival)`` order,
  through :meth:`~shopstream.state.KeyedOperator.process_broadcast` with a
  :class:`BroadcastContext` (``timestamp_ms`` = ``t``, no keyed state, no timers);
* every update stamped ``t`` has arrived by then: an upstream stage emits it before its
  watermark passes ``t``, and the stage handles ``u`` only once its watermark (the
  minimum over both inputs) has passed ``u``.

So each parallel instance applies the same updates in the same order, and an element at
``u`` sees exactly the updates stamped at or before ``u``, as on the embedded runner,
whatever the interleaving.

What the operators hold from broadcasts is checkpointed in Flink broadcast state (only
``processBroadcastElement`` may write it): a log of the updates received, one entry
each, and every :data:`COMPACT_EVERY` updates a base (each operator's
:meth:`~shopstream.state.KeyedOperator.snapshot_broadcast` and the time it covers) that
replaces the entries it covers. A restored instance restores the base and queues the log.
Bound: the log holds at most :data:`COMPACT_EVERY` entries plus the updates ahead of the
stage's event time (at most the out-of-orderness bound's worth). A job nobody snapshots
(``held_keys``, see :class:`~shopstream.runners.flink.stage.StageFunction`) keeps no log.

PyFlink (2.3, thread mode) drops side outputs yielded from a keyed broadcast function's
``on_timer``, so this stage yields ``(tag name, record)`` on its main output and a chained
:class:`Demux` turns them into the side outputs other stages read. A stage whose outputs
only go to sinks (the recommender: no later stage reads what it emits) is a
:class:`SinkBroadcastStageFunction` instead, whose main output is the sink rows
themselves, with no demultiplexer behind it: one Python call less per output record.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from pyflink.common import Types
from pyflink.datastream import KeyedBroadcastProcessFunction, ProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from shopstream.errors import ShopstreamError
from shopstream.events.records import Output
from shopstream.runners.flink.stage import StageLogic
from shopstream.runners.flink.tags import row, tag_named
from shopstream.state.descriptors import StateDescriptor
from shopstream.state.operator import KeyedOperator

__all__ = ["BROADCAST_STATE", "COMPACT_EVERY", "BroadcastContext", "BroadcastStageFunction",
           "Demux", "SinkBroadcastStageFunction"]

#: Updates logged in broadcast state between two bases (see the module docstring).
COMPACT_EVERY = 512

_MIN = -(2**63)


def broadcast_state() -> MapStateDescriptor:
    """The Flink broadcast state of a broadcast stage: ``"base"`` and ``"u<seq>"`` entries."""
    return MapStateDescriptor("shopstream.broadcast", Types.STRING(),
                              Types.PICKLED_BYTE_ARRAY())


BROADCAST_STATE = broadcast_state()


class BroadcastContext:
    """What :meth:`~shopstream.state.KeyedOperator.process_broadcast` sees on Flink: the
    update's event time, no key, no keyed state and no timers (Flink forbids both there)."""

    __slots__ = ("operator", "timestamp_ms", "watermark_ms")

    key = ""

    def __init__(self, operator: str) -> None:
        self.operator = operator
        self.timestamp_ms = 0
        self.watermark_ms = _MIN

    def state(self, descriptor: StateDescriptor) -> Any:
        msg = (f"operator {self.operator!r}: process_broadcast used keyed state "
               f"{descriptor.name!r}; a broadcast handler may keep what it reads only in its "
               "own attributes (snapshot_broadcast), never in keyed state")
        raise ShopstreamError(msg)

    def register_event_timer(self, timestamp_ms: int) -> None:
        msg = (f"operator {self.operator!r}: process_broadcast registered a timer at "
               f"{timestamp_ms}; a broadcast handler may not use timers")
        raise ShopstreamError(msg)

    def delete_event_timer(self, timestamp_ms: int) -> None:
        self.register_event_timer(timestamp_ms)


class BroadcastStageFunction(StageLogic, KeyedBroadcastProcessFunction):  # type: ignore[misc]
    """A :class:`~shopstream.runners.flink.stage.StageFunction` with broadcast inputs; see
    the module docstring."""

    by_name = True

    def open(self, runtime_context: Any) -> None:
        super().open(runtime_context)
        self._catch_up = self._apply_until
        # Updates apply by time across keys: each key wakes at each of its element times.
        self._batched = False
        self._updates: list[tuple[int, int, Any]] = []
        self._log: dict[int, int] = {}
        self._seq = 0
        self._applied_ms = _MIN
        self._compact_at = COMPACT_EVERY
        self._loaded = False
        self._bctx = [BroadcastContext(op.name) for op in self.operators]
        self._state_descriptor = broadcast_state()

    def process_element(self, value: bytes, ctx: Any) -> Any:
        if not self._loaded:
            self._load(ctx)
        return super().process_element(value, ctx)

    def on_timer(self, timestamp: int, ctx: Any) -> Any:
        if not self._loaded:
            self._load(ctx)
        return super().on_timer(timestamp, ctx)

    def process_broadcast_element(self, value: tuple[int, Any], ctx: Any) -> None:
        if not self._loaded:
            self._load(ctx)
        self._seq += 1
        entry = (value[0], self._seq, value[1])
        heapq.heappush(self._updates, entry)
        if self.held_keys:
            # A job nobody snapshots (see StageFunction): the log would never be read.
            return
        state = ctx.get_broadcast_state(self._state_descriptor)
        state.put(f"u{self._seq}", entry)
        self._log[self._seq] = value[0]
        if len(self._log) >= self._compact_at:
            self._compact(state)

    def _apply_until(self, until_ms: int) -> None:
        updates = self._updates
        while updates and updates[0][0] <= until_ms:
            stamp, _, record = heapq.heappop(updates)
            for bctx, operator in zip(self._bctx, self.operators, strict=True):
                bctx.timestamp_ms = stamp
                bctx.watermark_ms = stamp - 1
                for out in operator.process_broadcast(record, bctx) or ():
                    msg = (f"operator {operator.name!r}: process_broadcast emitted to "
                           f"{out.stream!r}; a broadcast handler returns no outputs (each "
                           "parallel instance applies every update)")
                    raise ShopstreamError(msg)
        if until_ms > self._applied_ms:
            self._applied_ms = until_ms

    def _compact(self, state: Any) -> None:
        # Everything stamped up to the time handled last has been applied (see the module
        # docstring), and nothing else has: the operators' snapshots are exactly that fold.
        cut = self._applied_ms
        snapshots = tuple(op.snapshot_broadcast() for op in self.operators)
        state.put("base", (snapshots, cut))
        for seq, stamp in list(self._log.items()):
            if stamp <= cut:
                state.remove(f"u{seq}")
                del self._log[seq]
        self._compact_at = len(self._log) + COMPACT_EVERY

    def _load(self, ctx: Any) -> None:
        self._loaded = True
        state = ctx.get_broadcast_state(self._state_descriptor)
        if state is None:
            return
        for name, entry in list(state.items()):
            if name == "base":
                snapshots, cut = entry
                for operator, snapshot in zip(self.operators, snapshots, strict=True):
                    if snapshot is not None:
                        operator.restore_broadcast(snapshot)
                self._applied_ms = max(self._applied_ms, cut)
                continue
            heapq.heappush(self._updates, entry)
            self._log[entry[1]] = entry[0]
            self._seq = max(self._seq, entry[1])
        self._compact_at = len(self._log) + COMPACT_EVERY


class SinkBroadcastStageFunction(BroadcastStageFunction):
    """A :class:`BroadcastStageFunction` with no later stage reading its outputs: its main
    output is ``Row(stream, json)`` of :data:`~shopstream.runners.flink.tags.SINK_TAG`'s
    type, to the sinks directly (see the module docstring)."""

    def _route(self, outs: Iterable[Output], ts: int,
               operator: KeyedOperator[Any] | None) -> Iterator[Any]:
        sinks, encode = self.sinks, self._encode
        for out in outs:
            if out.stream in sinks:
                yield row(out.stream, encode(out.record).decode())
            else:  # a stream nobody reads here, or one read upstream (an error)
                yield from super()._route((out,), ts, operator)


class Demux(ProcessFunction):  # type: ignore[misc]
    """``(tag name, record)`` from a broadcast stage's main output to that side output."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def open(self, runtime_context: Any) -> None:
        self._tags = {name: tag_named(name) for name in self.names}

    def process_element(self, value: tuple[str, Any], ctx: Any) -> Any:
        yield self._tags[value[0]], value[1]
