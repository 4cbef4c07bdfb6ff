from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpers import ev

from shopstream.events import Output, ShopperEvent, streams
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_operator, run_topology
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor
from shopstream.topology import Stage, Topology

SEEN = ValueStateDescriptor[int]("seen")


class Recorder(KeyedOperator[ShopperEvent]):
    """Emits what it was called with, and sets a timer `delay` after each element."""

    name = "recorder"

    def __init__(self, delay: int | None = None, delete_previous: bool = False) -> None:
        self.delay = delay
        self.delete_previous = delete_previous

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        seen = ctx.state(SEEN)
        if self.delay is not None:
            previous = seen.value()
            if self.delete_previous and previous is not None:
                ctx.delete_event_timer(previous + self.delay)
            ctx.register_event_timer(element.timestamp_ms + self.delay)
        seen.update(element.timestamp_ms)
        return (Output("trace", ctx.key, ("event", element.timestamp_ms, ctx.key,
                                          ctx.watermark_ms)),)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        return (Output("trace", ctx.key, ("timer", timestamp_ms, ctx.key, ctx.watermark_ms)),)


def trace(outputs: list[Output]) -> list[Any]:
    return [o.record for o in outputs if o.stream == "trace"]


def by_session(e: ShopperEvent) -> str:
    return e.session_id


def test_events_are_processed_in_event_time_order_within_the_bound() -> None:
    events = [ev("PAGE_VIEW", t) for t in (10, 30, 20, 40, 35)]
    out = run_operator(Recorder(), events, by_session, out_of_orderness_ms=10,
                       sink_streams=("trace",))
    assert [r[1] for r in trace(out)] == [10, 20, 30, 35, 40]
    assert [r[3] for r in trace(out)] == [9, 19, 29, 34, 39]


def test_late_events_go_to_the_side_output_and_are_counted() -> None:
    collected: list[Output] = []
    engine = Engine(Topology((Stage(Recorder(), ("events",), by_session),), ("trace",)), 5,
                    collected.append)
    for t in (100, 200, 150, 194, 195):
        engine.offer(ev("PAGE_VIEW", t))
        engine.drain()
    engine.finish()
    # watermark after 200 is 200 - 5 - 1 = 194: 150 and 194 are late, 195 is not.
    late = [o.record for o in collected if o.stream == streams.LATE_EVENTS]
    assert [(r.event.timestamp_ms, r.watermark, r.lateness_ms) for r in late] == [
        (150, 194, 45), (194, 194, 1)]
    assert engine.late_events == 2
    assert [r[1] for r in trace(collected)] == [100, 195, 200]


def test_timers_fire_in_time_order_after_events_at_the_same_time() -> None:
    events = [ev("PAGE_VIEW", 0, "a"), ev("PAGE_VIEW", 5, "b"), ev("PAGE_VIEW", 10, "a")]
    out = trace(run_operator(Recorder(delay=10), events, by_session, out_of_orderness_ms=0,
                             sink_streams=("trace",)))
    assert out == [
        ("event", 0, "a", -1), ("event", 5, "b", 4),
        ("event", 10, "a", 9), ("timer", 10, "a", 10),
        ("timer", 15, "b", 15), ("timer", 20, "a", 20),
    ]


def test_deleted_timers_do_not_fire_and_duplicates_fire_once() -> None:
    events = [ev("PAGE_VIEW", t, "a") for t in (0, 3, 6)]
    out = trace(run_operator(Recorder(delay=10, delete_previous=True), events, by_session,
                             out_of_orderness_ms=100, sink_streams=("trace",)))
    assert [r for r in out if r[0] == "timer"] == [("timer", 16, "a", 16)]


def test_outputs_feed_downstream_stages_and_sinks() -> None:
    class Doubler(KeyedOperator[tuple[Any, ...]]):
        name = "doubler"

        def process_element(self, element: tuple[Any, ...], ctx: Context) -> Iterable[Output]:
            return (Output("doubled", ctx.key, element[1] * 2),)

    topology = Topology((
        Stage(Recorder(), ("events",), by_session),
        Stage(Doubler(), ("trace",), key_by=lambda r: r[2]),
    ), sink_streams=("doubled",))
    out = run_topology(topology, [ev("PAGE_VIEW", 1), ev("PAGE_VIEW", 2)])
    assert [(o.stream, o.record) for o in out] == [("doubled", 2), ("doubled", 4)]


def test_snapshot_and_restore_continue_identically() -> None:
    events = [ev("PAGE_VIEW", t, f"s{t % 3}") for t in range(0, 200, 7)]
    topology = Topology((Stage(Recorder(delay=20), ("events",), by_session),), ("trace",))

    whole: list[Output] = []
    engine = Engine(topology, 15, whole.append)
    for e in events:
        engine.offer(e)
        engine.drain()
    engine.finish()

    first: list[Output] = []
    engine = Engine(topology, 15, first.append)
    for e in events[:13]:
        engine.offer(e)
        engine.drain()
    saved = engine.snapshot()
    second: list[Output] = []
    resumed = Engine(Topology((Stage(Recorder(delay=20), ("events",), by_session),),
                              ("trace",)), 15, second.append)
    resumed.restore(saved)
    for e in events[13:]:
        resumed.offer(e)
        resumed.drain()
    resumed.finish()
    assert first + second == whole


def test_calls_queued_before_the_first_event_run_on_an_idle_tick() -> None:
    # serve's DELETE /users/{id} queues its scrub with call_soon; a server that has not
    # taken an event yet must still run it on its next idle tick, not after a timeout.
    engine = Engine(Topology((Stage(Recorder(), ("events",), by_session),), ("trace",)), 5,
                    lambda _: None)
    ran: list[int] = []
    engine.call_soon(lambda e: ran.append(e.watermark_ms))
    engine.advance_idle(1_000)
    assert len(ran) == 1
    engine.advance_idle(1_000)  # nothing queued: nothing runs again
    assert len(ran) == 1


def test_reference_data_follows_the_topologys_watermark_policies() -> None:
    """Customer changes declared on their own stream go there, held like catalog changes
    (never late, never moving the watermark); product changes keep ``catalog-changes``."""
    from shopstream.topology import CATALOG_POLICY, WatermarkPolicy

    accounts = WatermarkPolicy("account-changes", frozenset({"CUSTOMER_CHANGE"}),
                               moves_watermark=False, may_be_late=False)
    catalog = WatermarkPolicy(CATALOG_POLICY.stream, frozenset({"PRODUCT_CHANGE"}),
                              moves_watermark=False, may_be_late=False)
    topology = Topology((Stage(Recorder(), ("events",), by_session),),
                        sink_streams=("account-changes", streams.CATALOG_CHANGES),
                        watermark_policies=(accounts, catalog))
    out = run_topology(topology, [ev("PAGE_VIEW", 5_000), ev("CUSTOMER_CHANGE", 1),
                                  ev("PRODUCT_CHANGE", 2)], out_of_orderness_ms=0)
    assert [(o.stream, o.record.timestamp_ms) for o in out] == [
        ("account-changes", 1), (streams.CATALOG_CHANGES, 2)]


def test_a_watermark_policy_the_engine_cannot_hold_is_refused() -> None:
    import pytest

    from shopstream.errors import ConfigError
    from shopstream.topology import WatermarkPolicy

    moving = WatermarkPolicy("account-changes", frozenset({"CUSTOMER_CHANGE"}),
                             moves_watermark=True, may_be_late=False)
    topology = Topology((Stage(Recorder(), ("events",), by_session),),
                        sink_streams=(), watermark_policies=(moving,))
    with pytest.raises(ConfigError, match="account-changes"):
        Engine(topology, 0, lambda out: None)


def test_a_stage_keeps_its_state_by_uid_when_its_operator_is_renamed() -> None:
    """State is checkpointed by ``Stage.uid``: a renamed operator with the same uid
    continues where the old one stopped (its timers and per-key state come back)."""

    class Renamed(Recorder):
        name = "recorder-v2"

    events = [ev("PAGE_VIEW", t, f"s{t % 3}") for t in range(0, 200, 7)]
    topology = Topology((Stage(Recorder(delay=20), ("events",), by_session, uid="rec"),),
                        ("trace",))
    whole: list[Output] = []
    engine = Engine(topology, 15, whole.append)
    for e in events:
        engine.offer(e)
    engine.finish()

    first: list[Output] = []
    engine = Engine(topology, 15, first.append)
    for e in events[:13]:
        engine.offer(e)
        engine.drain()
    saved = engine.snapshot()
    assert list(saved["stages"]) == ["rec"]
    second: list[Output] = []
    resumed = Engine(Topology((Stage(Renamed(delay=20), ("events",), by_session, uid="rec"),),
                              ("trace",)), 15, second.append)
    resumed.restore(saved)
    for e in events[13:]:
        resumed.offer(e)
    resumed.finish()
    assert first + second == whole


def _changes_and_timers(events: list[ShopperEvent], drain_every: bool) -> list[Any]:
    """What a ``Recorder(delay=60)`` and the ``catalog-changes`` stream see, in order, with
    the test kit's drain after every event or, like the runner, one drain at the end."""
    collected: list[Output] = []
    topology = Topology((Stage(Recorder(delay=60), ("events",), by_session),),
                        ("trace", streams.CATALOG_CHANGES))
    engine = Engine(topology, 100, collected.append)
    for event in events:
        engine.offer(event)
        if drain_every:
            engine.drain()
    engine.finish()
    return [(o.record[0], o.record[1]) if o.stream == "trace"
            else ("change", o.record.event_id) for o in collected]


def test_a_change_behind_the_watermark_comes_before_later_timers() -> None:
    """A customer change stamped behind the watermark takes effect at the watermark (the
    time of the next event after it at the earliest): after the timers due before then,
    before the timers due after, however often the engine drains."""
    change = ev("CUSTOMER_CHANGE", 1, "pg", event_id="c", user_id="u")
    # Offered at watermark 49 (its time: 50); the timer of the event at 0 is due at 60.
    events = [ev("PAGE_VIEW", 0, "a"), ev("PAGE_VIEW", 150, "b"), change,
              ev("PAGE_VIEW", 200, "d")]
    expected = [("event", 0), ("change", "c"), ("timer", 60), ("event", 150),
                ("event", 200), ("timer", 210), ("timer", 260)]
    assert _changes_and_timers(events, drain_every=True) == expected
    assert _changes_and_timers(events, drain_every=False) == expected


def test_a_change_behind_the_watermark_before_a_buffered_event_after_a_timer() -> None:
    """Offered at watermark 19 (its time: 20), the change comes before the timer at 60 of
    the event at 0 even though the next event it precedes (at 80) comes after that timer."""
    change = ev("CUSTOMER_CHANGE", 1, "pg", event_id="c", user_id="u")
    events = [ev("PAGE_VIEW", 0, "a"), ev("PAGE_VIEW", 80, "b"), ev("PAGE_VIEW", 120, "d"),
              change, ev("PAGE_VIEW", 200, "e")]
    expected = [("event", 0), ("change", "c"), ("timer", 60), ("event", 80),
                ("event", 120), ("timer", 140), ("timer", 180), ("event", 200),
                ("timer", 260)]
    assert _changes_and_timers(events, drain_every=True) == expected
    assert _changes_and_timers(events, drain_every=False) == expected


def test_timers_due_before_a_change_fire_before_it() -> None:
    """A drain that releases a change (at 50) also fires first the timers due before it
    (at 10, of an event the same drain released)."""
    collected: list[Output] = []
    topology = Topology((Stage(Recorder(delay=10), ("events",), by_session),),
                        ("trace", streams.CATALOG_CHANGES))
    engine = Engine(topology, 100, collected.append)
    for event in (ev("PAGE_VIEW", 0, "a"), ev("PAGE_VIEW", 150, "b"),
                  ev("CUSTOMER_CHANGE", 1, "pg", event_id="c", user_id="u"),
                  ev("PAGE_VIEW", 160, "d")):
        engine.offer(event)
    engine.drain()
    assert [o.stream for o in collected] == ["trace", "trace", streams.CATALOG_CHANGES]
    assert [o.record[:2] for o in collected[:2]] == [("event", 0), ("timer", 10)]
