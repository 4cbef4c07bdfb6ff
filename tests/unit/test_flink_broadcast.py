"""The Flink broadcast stage's rules, driven without a JVM: the functions run against
small in-memory stand-ins for Flink's keyed state, broadcast state and timer service, fed
in orders Flink may choose (updates ahead of or behind the keyed input, any key order).

* an element at ``t`` sees exactly the updates stamped at or before ``t``;
* a new instance restored from the broadcast state (base plus log, with compactions on
  the way) goes on exactly as the first would have;
* a broadcast handler that uses keyed state, timers or emits outputs is refused with its
  operator named.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from typing import Any

import pytest

pytest.importorskip("pyflink.datastream")

from flink_standins import Runtime

from shopstream.errors import ShopstreamError
from shopstream.events.records import Output
from shopstream.runners.flink import broadcast
from shopstream.runners.flink.broadcast import BroadcastStageFunction, SinkBroadcastStageFunction
from shopstream.runners.flink.tags import encode_pair
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

_COUNT = ValueStateDescriptor[int]("count")


class Seen(KeyedOperator[str]):
    """Emits, per element, its key, time and the updates it can see."""

    name = "seen"
    state_descriptors = (_COUNT,)

    def __init__(self, misuse: str = "") -> None:
        self.updates: list[tuple[int, str]] = []
        self.misuse = misuse

    def process_broadcast(self, update: Any, ctx: Context) -> Iterable[Output]:
        if self.misuse == "state":
            ctx.state(_COUNT)
        if self.misuse == "timer":
            ctx.register_event_timer(ctx.timestamp_ms + 1)
        self.updates.append((ctx.timestamp_ms, update))
        return [Output("out", "", update)] if self.misuse == "output" else ()

    def process_element(self, element: str, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_COUNT)
        state.update((state.value() or 0) + 1)
        # What it has seen, in short: how many, the last, and whether in stamp order.
        stamps = [stamp for stamp, _ in self.updates]
        return (Output("out", ctx.key, (ctx.key, ctx.timestamp_ms, element, len(stamps),
                                         self.updates[-1] if stamps else None,
                                         stamps == sorted(stamps))),)

    def snapshot_broadcast(self) -> Any:
        return list(self.updates)

    def restore_broadcast(self, snapshot: Any) -> None:
        self.updates = list(snapshot)


@pytest.fixture
def small_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compact the broadcast log every 64 updates (512 in a job), so that a short
    scenario compacts it several times."""
    monkeypatch.setattr(broadcast, "COMPACT_EVERY", 64)


def _function(runtime: Runtime, operator: Seen) -> BroadcastStageFunction:
    function: BroadcastStageFunction = BroadcastStageFunction(
        (operator,), (), frozenset({"out"}), frozenset())
    function.open(runtime)
    return function


def _outputs(items: Iterable[Any]) -> list[Any]:
    """``[key, time, element, updates seen, last update, in order]`` from the sink rows."""
    rows = []
    for tag, row in items:
        assert (tag, row[0]) == ("shopstream-sink", "out")
        rows.append(json.loads(row[1]))
    return rows


def _advance(function: BroadcastStageFunction, runtime: Runtime, mark: int) -> list[Any]:
    """The watermark reaches ``mark``: fire the due timers in Flink's order."""
    runtime.watermark = mark
    out: list[Any] = []
    while runtime.timers and runtime.timers[0][0] <= mark:
        at, runtime.key = heapq.heappop(runtime.timers)
        out += _outputs(function.on_timer(at, runtime))
    return out


def _element(function: BroadcastStageFunction, runtime: Runtime, key: str, at: int,
             value: str) -> None:
    runtime.key = key
    assert function.process_element(encode_pair(at, value), runtime) is None


def _scenario(function: BroadcastStageFunction, runtime: Runtime,
              restart: Any = None) -> list[Any]:
    """Updates arrive ahead of, with and behind the elements (but before the watermark
    passes their time, as Flink guarantees); ``restart`` may swap the function midway."""
    out: list[Any] = []
    for n in range(300):
        at = 1_000 + 10 * n
        function.process_broadcast_element((at + 5, f"u{n}"), runtime)
        if n % 7 == 0:  # an update from a slower producer: stamped earlier, arriving now
            function.process_broadcast_element((at - 3, f"late{n}"), runtime)
        _element(function, runtime, f"k{n % 5}", at, f"e{n}")
        _element(function, runtime, f"k{(n + 2) % 5}", at + 5, f"f{n}")
        out += _advance(function, runtime, at - 20)
        if restart is not None and n == 200:
            function = restart(function)
    return out + _advance(function, runtime, 2**62)


def test_an_element_sees_exactly_the_updates_stamped_at_or_before_it(
        small_log: None) -> None:
    runtime = Runtime()
    out = _scenario(_function(runtime, Seen()), runtime)
    assert len(out) == 600
    stamps = sorted([1_005 + 10 * n for n in range(300)]
                    + [997 + 10 * n for n in range(300) if n % 7 == 0])
    for _key, at, _element_value, count, last, in_order in out:
        assert in_order
        assert count == sum(1 for stamp in stamps if stamp <= at) > 0
        assert last[0] == max(stamp for stamp in stamps if stamp <= at)


def test_a_restored_instance_goes_on_as_the_first_would_have(small_log: None) -> None:
    runtime = Runtime()
    expected = _scenario(_function(runtime, Seen()), runtime)
    runtime = Runtime()

    def restart(old: BroadcastStageFunction) -> BroadcastStageFunction:
        # A checkpoint holds the keyed state, the timers and the broadcast state; the
        # operator's attributes are lost with the process.
        assert "base" in runtime.broadcast, "the log was compacted on the way"
        assert len(runtime.broadcast) < broadcast.COMPACT_EVERY + 10
        return _function(runtime, Seen())

    assert _scenario(_function(runtime, Seen()), runtime, restart) == expected


@pytest.mark.parametrize(("misuse", "message"), [
    ("state", "process_broadcast used keyed state 'count'"),
    ("timer", "process_broadcast registered a timer"),
    ("output", "process_broadcast emitted to 'out'"),
])
def test_a_broadcast_handler_gets_no_keyed_state_timers_or_outputs(misuse: str,
                                                                    message: str) -> None:
    runtime = Runtime()
    function = _function(runtime, Seen(misuse))
    function.process_broadcast_element((5, "u"), runtime)
    _element(function, runtime, "k", 10, "e")
    with pytest.raises(ShopstreamError, match=message) as info:
        _advance(function, runtime, 10)
    assert "'seen'" in str(info.value)


def test_a_stage_read_by_sinks_only_sends_the_sink_rows_themselves() -> None:
    """No later stage reads its outputs: the main output is ``Row(stream, json)``, what the
    demultiplexer would have sent to the sink, and the same rows."""
    rows: dict[str, list[Any]] = {}
    for kind in (BroadcastStageFunction, SinkBroadcastStageFunction):
        runtime = Runtime()
        function = kind((Seen(),), (), frozenset({"out"}), frozenset())
        function.open(runtime)
        function.process_broadcast_element((5, "u"), runtime)
        _element(function, runtime, "k", 10, "e")
        runtime.watermark = 10
        at, runtime.key = heapq.heappop(runtime.timers)
        rows[kind.__name__] = list(function.on_timer(at, runtime))
    demuxed = rows["BroadcastStageFunction"]
    assert [tag for tag, _ in demuxed] == ["shopstream-sink"]
    assert rows["SinkBroadcastStageFunction"] == [row for _, row in demuxed]
    assert json.loads(rows["SinkBroadcastStageFunction"][0][1])[:3] == ["k", 10, "e"]
