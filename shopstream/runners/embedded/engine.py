"""The event-time core of the embedded runner.

Events are buffered and released in event-time order once the watermark passes them, so
any arrival order within the out-of-orderness bound gives the same outputs. Conventions
follow Flink: the watermark is ``max_timestamp - bound - 1``; an event at or below the
watermark is late; a timer fires once the watermark reaches it. At equal times, events
come before timers, and ties keep arrival (events) or registration (timers) order.

While an operator runs, ``ctx.watermark_ms`` is the time up to which everything has
been processed: ``t - 1`` for an event at ``t`` and ``t`` for a timer at ``t``, which
makes it independent of arrival order.

A stage may take ``events`` as a broadcast input (to learn a model shared by all keys):
it sees each event before the keyed stages do. Catalog and account changes
(``PRODUCT_CHANGE``, ``CUSTOMER_CHANGE``) are reference data: they go to the
``catalog-changes`` stream in event time (before an event of the same time), but never
move the watermark and are never late (one behind the watermark takes effect at it); no
session or user operator sees them.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

from shopstream.errors import CheckpointError
from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import LateEvent, Output
from shopstream.runners.embedded.context import StageContext
from shopstream.runners.embedded.timers import SEQ_BITS, TimerQueue
from shopstream.runners.embedded.trending_checkpoint import adopt_one_phase_trending
from shopstream.topology import Stage, Topology

__all__ = ["MAX_WATERMARK", "Engine"]

MAX_WATERMARK = 2**63 - 1
_MIN_WATERMARK = -(2**63)

#: One stage a stream's records reach: its context, the key of a record (``""`` for a
#: broadcast input) and the operator method that processes it.
_Step = tuple[StageContext, Callable[[Any], str], Callable[[Any, StageContext], Any]]


def _no_key(_: Any) -> str:
    return ""


def _ignore(_: Any, __: int) -> None:
    """The delivery of a stream no stage reads."""


class Engine:
    """Routes events and outputs through a :class:`Topology` in event-time order.

    ``emit`` receives every output of a stream listed in ``topology.sink_streams``, plus
    ``late-events``. Outputs of a stream that a stage consumes are handed to that stage at
    once (depth first), with the upstream element's timestamp.
    """

    def __init__(self, topology: Topology, out_of_orderness_ms: int,
                 emit: Callable[[Output], None]) -> None:
        self.topology = topology
        self.bound_ms = out_of_orderness_ms
        self._emit = emit
        self.timers = TimerQueue()
        self.contexts = [StageContext(i, s.name, self.timers)
                         for i, s in enumerate(topology.stages)]
        self._consumers: dict[str, list[tuple[int, Stage]]] = {}
        self._broadcast: dict[str, list[int]] = {}
        for i, stage in enumerate(topology.stages):
            for name in stage.inputs:
                self._consumers.setdefault(name, []).append((i, stage))
            for name in stage.broadcast_inputs:
                self._broadcast.setdefault(name, []).append(i)
        self._sinks = frozenset(topology.sink_streams) | {streams.LATE_EVENTS}
        #: Event types held as reference data (the topology's watermark policies): kind ->
        #: the stream they go to.
        self.held_kinds = topology.held_kinds("embedded")
        # Per output stream: the sink's emit (or None) and the stages' deliver (or None).
        self._routes: dict[str, tuple[Callable[[Output], None] | None,
                                      Callable[[Any, int], None] | None]] = {}
        # Per stage index, its context and timer method (a timer fires through them).
        self._timer_steps = [(ctx, stage.operator.on_timer)
                             for ctx, stage in zip(self.contexts, topology.stages, strict=True)]
        # The function that hands a stream's records to the stages it reaches.
        self._deliver = {stream: self._deliverer(self._route(stream))
                         for stream in {*self._consumers, *self._broadcast}}
        # Events arriving in time order (nearly all) queue in a deque; only those that
        # overtook a newer event go through the heap. Draining merges the two.
        self._in_order: deque[tuple[int, int, ShopperEvent]] = deque()
        self._overtaken: list[tuple[int, int, ShopperEvent]] = []
        self._catalog: list[tuple[int, int, ShopperEvent]] = []
        self._seq = 0
        self.max_timestamp_ms = _MIN_WATERMARK
        self.watermark_ms = _MIN_WATERMARK
        self.late_events = 0
        self.output_counts: dict[str, int] = {}
        # Work handed in from other threads (an erasure by `serve`), run by drain().
        self._calls: deque[Callable[[Engine], None]] = deque()

    # -- input ---------------------------------------------------------------------------
    def offer(self, event: ShopperEvent) -> None:
        """Accept one event: buffer it, or send it to ``late-events`` when it is too late.

        Buffered events are processed by :meth:`drain` (the runner calls it every few
        events, or :meth:`advance`/:meth:`finish`): batching saves a call per event and
        cannot change the outputs, which follow event-time order, not arrival.
        """
        ts = event.timestamp_ms
        if event.event_type in self.held_kinds:
            # Reference data (a watermark policy of the topology, e.g. catalog changes):
            # released in event time like events, but it never moves the watermark (a
            # catalog stamped "now" must not make a history replay late) and is never
            # dropped as late (it takes effect at the watermark instead).
            self._seq += 1
            heapq.heappush(self._catalog, (max(ts, self.watermark_ms + 1), self._seq, event))
            return
        if ts <= self.watermark_ms:
            self.late_events += 1
            record = LateEvent(event, self.watermark_ms, self.watermark_ms - ts + 1)
            self._output(Output(streams.LATE_EVENTS, event.session_id, record))
            return
        self._seq += 1
        in_order = self._in_order
        if not in_order or ts >= in_order[-1][0]:
            in_order.append((ts, self._seq, event))
        else:
            heapq.heappush(self._overtaken, (ts, self._seq, event))
        if ts > self.max_timestamp_ms:
            self.max_timestamp_ms = ts
            mark = ts - self.bound_ms - 1
            if mark > self.watermark_ms:
                self.watermark_ms = mark

    def advance(self, watermark_ms: int) -> None:
        """Move the watermark forward (never back) and process all it releases."""
        if watermark_ms > self.watermark_ms:
            self.watermark_ms = watermark_ms
        self.drain()

    def advance_idle(self, idle_ms: int) -> None:
        """The input fell silent ``idle_ms`` of wall time ago: let event time follow the
        clock, as if an event that much newer than the newest one had come (nothing
        happens before the first event, but calls queued by :meth:`call_soon` run)."""
        if self.max_timestamp_ms > _MIN_WATERMARK:
            self.advance(self.max_timestamp_ms - self.bound_ms - 1 + idle_ms)
        elif self._calls:
            self.drain()

    def finish(self) -> None:
        """End of input: release every buffered event and fire every timer."""
        self.advance(MAX_WATERMARK)

    @property
    def buffered_events(self) -> int:
        """Events (and catalog changes) held until the watermark passes them; safe to read
        from any thread (``serve`` bounds it: ``--max-buffered-events``)."""
        return len(self._in_order) + len(self._overtaken) + len(self._catalog)

    def call_soon(self, fn: Callable[[Engine], None]) -> None:
        """Run ``fn(engine)`` on the thread driving the engine, at the start of its next
        :meth:`drain` (safe to call from any thread; ``serve`` erases a shopper's state
        this way while its pipeline runs)."""
        self._calls.append(fn)

    def drain(self) -> None:
        """Process buffered events and timers up to the watermark, in event-time order."""
        while self._calls:
            self._calls.popleft()(self)
        mark = self.watermark_ms
        self._release_events(mark)
        if self._catalog and self._catalog[0][0] <= mark:
            self._release_catalog(mark)
        theap = self.timers.heap
        if theap and theap[0] >> SEQ_BITS <= mark:
            self.timers.fire_due(mark + 1, self._fire)

    def _release_events(self, mark: int) -> None:
        """Hand every buffered event at or before ``mark`` to its stages, in event-time
        order, after the catalog changes and timers due before it (the changes first:
        each after the timers due before it, see :meth:`_release_catalog`)."""
        # This loop runs per event: its lookups are bound once, here.
        in_order = self._in_order
        overtaken = self._overtaken
        popleft = in_order.popleft
        pop = heapq.heappop
        theap = self.timers.heap
        fire_due = self.timers.fire_due
        fire = self._fire
        shift = SEQ_BITS
        catalog = self._catalog
        deliver = self._deliver.get(streams.EVENTS, _ignore)
        while True:
            if overtaken and (not in_order or overtaken[0] < in_order[0]):
                if overtaken[0][0] > mark:
                    break
                ts, _, event = pop(overtaken)
            elif in_order and in_order[0][0] <= mark:
                ts, _, event = popleft()
            else:
                break
            if catalog and catalog[0][0] <= ts:
                self._release_catalog(ts)
            if theap and theap[0] >> shift < ts:
                fire_due(ts, fire)
            deliver(event, ts)

    def _release_catalog(self, until_ms: int) -> None:
        """Send the reference data due by ``until_ms`` to its policy's stream
        (``catalog-changes`` for catalog changes), each change after the timers due before
        it (a change, an event and a timer at the same time: in that order). A change
        behind the watermark takes effect just after it: before every timer due later,
        even when the next event is released only after those timers."""
        catalog = self._catalog
        held = self.held_kinds
        theap = self.timers.heap
        while catalog and catalog[0][0] <= until_ms:
            ts, _, event = heapq.heappop(catalog)
            if theap and theap[0] >> SEQ_BITS < ts:
                self.timers.fire_due(ts, self._fire)
            self._output(Output(held[event.event_type], event.session_id, event), ts)

    def _fire(self, ts: int, index: int, key: str) -> None:
        ctx, on_timer = self._timer_steps[index]
        ctx.key = key
        ctx.timestamp_ms = ts
        ctx.watermark_ms = ts
        outs = on_timer(ts, ctx)
        if outs:
            output = self._output
            for out in outs:
                output(out, ts)

    # -- routing -------------------------------------------------------------------------
    def _route(self, stream: str) -> tuple[_Step, ...]:
        """The stages ``stream``'s records reach, in the order they see a record: for
        ``events`` the stages that learn from every event (broadcast) before any keyed
        stage; for a derived stream the keyed stages first."""
        keyed = [(self.contexts[index], stage.key_by, stage.operator.process_element)
                 for index, stage in self._consumers.get(stream, ())]
        broadcast = [(self.contexts[index], _no_key,
                      self.topology.stages[index].operator.process_broadcast)
                     for index in self._broadcast.get(stream, ())]
        return (*broadcast, *keyed) if stream == streams.EVENTS else (*keyed, *broadcast)

    def _deliverer(self, steps: tuple[_Step, ...]) -> Callable[[Any, int], None]:
        """``deliver(element, ts)``: hand ``element`` to each stage of ``steps`` and their
        outputs on, depth first (it runs per event: its lookups are bound once, here)."""
        output = self._output
        # A step keyed by the same function as the one before it reuses its key (``None``:
        # key functions are pure, and stages of one key often follow each other).
        plan = [(ctx, None if i and key_of is steps[i - 1][1] else key_of, process)
                for i, (ctx, key_of, process) in enumerate(steps)]

        def deliver(element: Any, ts: int) -> None:
            key = ""
            before = ts - 1
            for ctx, key_of, process in plan:
                if key_of is not None:
                    key = key_of(element)
                ctx.key = key
                ctx.timestamp_ms = ts
                ctx.watermark_ms = before
                outs = process(element, ctx)
                if outs:
                    for out in outs:
                        output(out, ts)

        return deliver

    def _output(self, out: Output, ts: int = 0) -> None:
        stream = out.stream
        counts = self.output_counts
        counts[stream] = counts.get(stream, 0) + 1
        route = self._routes.get(stream)
        if route is None:  # the first record of the stream: where its records go
            route = self._routes[stream] = (self._emit if stream in self._sinks else None,
                                            self._deliver.get(stream))
        emit, deliver = route
        if emit is not None:
            emit(out)
        if deliver is not None:
            deliver(out.record, ts)

    # -- checkpoints ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as plain data."""
        return {
            "buffer": sorted([*self._in_order, *self._overtaken]),
            "catalog": sorted(self._catalog),
            "seq": self._seq,
            "max_timestamp_ms": self.max_timestamp_ms,
            "watermark_ms": self.watermark_ms,
            "late_events": self.late_events,
            "output_counts": dict(self.output_counts),
            "timers": self.timers.snapshot(),
            "stages": {  # by the stage's stable uid (its operator name unless declared)
                stage.uid: {
                    "state": ctx.backend.snapshot(),
                    "broadcast": stage.operator.snapshot_broadcast(),
                }
                for stage, ctx in zip(self.topology.stages, self.contexts, strict=True)
            },
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Put back what :meth:`snapshot` returned (on a freshly built engine)."""
        # A stage an older pipeline lacked may take over state it kept elsewhere
        # (trending-partials: one-phase trending's tracker and timers).
        snap = adopt_one_phase_trending(snap, self.topology.stages)
        self._in_order = deque(snap["buffer"])
        self._overtaken = []
        self._catalog = list(snap.get("catalog", []))
        self._seq = snap["seq"]
        self.max_timestamp_ms = snap["max_timestamp_ms"]
        self.watermark_ms = snap["watermark_ms"]
        self.late_events = snap["late_events"]
        self.output_counts = dict(snap["output_counts"])
        self.timers.restore(_timers_by_stage(snap, self.topology.stages))
        for stage, ctx in zip(self.topology.stages, self.contexts, strict=True):
            stages = snap["stages"]
            # Checkpoints written before stages had uids are keyed by name.
            saved = stages.get(stage.uid) or stages.get(stage.name) \
                or {"state": {}, "broadcast": None}
            ctx.backend.restore(saved["state"])
            if saved["broadcast"] is not None:
                stage.operator.restore_broadcast(saved["broadcast"])



def _timers_by_stage(snap: dict[str, Any], stages: tuple[Stage, ...]) -> dict[str, Any]:
    """The saved timers with each row's stage index moved to that stage's index here.

    A timer row names its stage by index in the topology that wrote the checkpoint, whose
    uids are the keys of ``snap["stages"]`` in that order; a pipeline that gained a stage
    (3ad9098 put the partial stages before ``revenue``) would fire old timers on the wrong
    stage. A timer of a stage this topology does not run is refused.
    """
    here = {stage.uid: i for i, stage in enumerate(stages)}
    here.update((stage.name, i) for i, stage in enumerate(stages) if stage.name not in here)
    saved = list(snap["stages"])
    rows = []
    for ts, seq, index, key in snap["timers"]["heap"]:
        uid = saved[index] if 0 <= index < len(saved) else None
        if uid not in here:
            msg = (f"checkpoint has a timer of stage {uid!r} (key {key!r}) that this "
                   "pipeline does not run: resume with the pipeline that wrote it, or start "
                   "without --resume")
            raise CheckpointError(msg)
        rows.append((ts, seq, here[uid], key))
    return {**snap["timers"], "heap": rows}
