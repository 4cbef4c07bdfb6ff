"""The Flink keyed stage's cost rules, driven without a JVM: the function runs against
in-memory stand-ins for Flink's keyed state (holding pickled bytes, as PyFlink's
``PICKLED_BYTE_ARRAY`` state does, and counting what is pickled and unpickled) and timer
service.

* a hot key (a global stage's one key) costs per element what any key does: a wake-up
  unpickles the elements due at its time, not everything the key buffers;
* operator value state is unpickled once per key while it stays cached, and pickled
  once per Flink call however often the operator updates it;
* a job nobody snapshots (``held_keys``) keeps its hot values and buffers in Python:
  nothing pickled into state, and the same outputs.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterable
from typing import Any

import pytest

pytest.importorskip("pyflink.datastream")

from flink_standins import Runtime

from shopstream.events.records import Output
from shopstream.runners.flink.stage import StageFunction
from shopstream.runners.flink.tags import encode_pair
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

_SUM = ValueStateDescriptor[list[int]]("sum")


class Running(KeyedOperator[int]):
    """Keeps every element of its key (a growing value, like a global model), updates it
    twice per element, and emits the key's running total with a timer a second later."""

    name = "running"
    state_descriptors = (_SUM,)

    def process_element(self, element: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_SUM)
        seen = state.value() or []
        state.update([*seen, element])
        state.update([*seen, element])
        ctx.register_event_timer(ctx.timestamp_ms + 1_000)
        total = sum(seen) + element
        return (Output("out", ctx.key, ("element", ctx.key, ctx.timestamp_ms, total)),)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        seen = ctx.state(_SUM).value() or []
        return (Output("out", ctx.key, ("timer", ctx.key, timestamp_ms, len(seen))),)


def _key(record: Any) -> str:
    return "all" if record < 10_000 else f"k{record % 3}"


def _run(elements: list[tuple[int, int]], held_keys: int = 0,
         step: int = 1) -> tuple[list[Any], Runtime]:
    """Feed ``(time, value)`` elements in the given order with the watermark 5 s behind
    the newest time after every ``step`` elements (Flink moves it periodically), then to
    the end; the outputs in firing order."""
    runtime = Runtime()
    # (Without held keys, the arguments the function took before it had them.)
    held: dict[str, Any] = {"held_keys": held_keys, "key_by": _key} if held_keys else {}
    function = StageFunction((Running(),), (), frozenset({"out"}), frozenset(), **held)
    function.open(runtime)
    out: list[Any] = []

    def advance(mark: int) -> None:
        runtime.watermark = mark
        while runtime.timers and runtime.timers[0][0] <= mark:
            at, runtime.key = heapq.heappop(runtime.timers)
            runtime.wakes += 1
            out.extend(json.loads(row[1]) for _, row in function.on_timer(at, runtime))

    newest = 0
    for n, (at, value) in enumerate(elements, 1):
        runtime.key = _key(value)
        assert function.process_element(encode_pair(at, value), runtime) is None
        newest = max(newest, at)
        if n % step == 0:
            advance(newest - 5_000)
    advance(2**62)
    return out, runtime


def _hot_key(n: int = 2_000, seed: int = 3) -> list[tuple[int, int]]:
    """One key, two elements every 10 ms, delivered up to 3 s out of order (within the
    watermark bound)."""
    rng = random.Random(seed)
    elements = [(1_000 + 10 * (i // 2), i) for i in range(n)]
    return sorted(elements, key=lambda e: e[0] + rng.randrange(3_000))


def test_a_hot_key_unpickles_only_what_is_due() -> None:
    elements = _hot_key()
    out, runtime = _run(elements)
    assert len([o for o in out if o[0] == "element"]) == len(elements)
    # In event-time order, whatever the arrival order.
    times = [o[2] for o in out if o[0] == "element"]
    assert times == sorted(times)
    # Each element: unpickled once from the buffer (and its time's earlier elements);
    # the growing value: once in all (then cached). A buffer re-read at every wake-up
    # would unpickle the ~600 elements held within the bound each time: ~600,000.
    assert runtime.counts.unpickled < 3 * len(elements), runtime.counts.unpickled


def test_a_value_is_pickled_once_per_call() -> None:
    elements = _hot_key(300)
    _, runtime = _run(elements)
    # The operator updates its value twice per element: one pickling per wake-up.
    wakes = len({at for at, _ in elements})
    assert runtime.counts.by_state["running.sum"] == wakes


def test_held_keys_keep_hot_state_in_python_with_the_same_outputs() -> None:
    rng = random.Random(7)
    elements = _hot_key(500) + [(1_000 + rng.randrange(2_500), 10_000 + i) for i in range(300)]
    elements.sort(key=lambda e: e[0] + rng.randrange(3_000))
    snapshotted, _ = _run(elements)
    held, runtime = _run(elements, held_keys=4)
    assert sorted(map(str, held)) == sorted(map(str, snapshotted))
    assert runtime.counts.pickled == 0
    assert runtime.stores.get("running.sum", {}) == {}


def test_held_keys_wake_a_key_once_per_watermark_step() -> None:
    # The watermark moves every 50 elements (as Flink's periodic watermark does). Per
    # element time, the hot key is woken at each element time and each operator timer
    # time (the operator sets one a second after each element), with a registration for
    # each element and each timer. A job nobody snapshots wakes it once per watermark
    # step and at its operator timers, registering one element timer per wake-up: the
    # same outputs in the same order (elements and timers, each at its time).
    elements = _hot_key(2_000)
    times = len({at for at, _ in elements})
    per_time, flink_state = _run(elements, step=50)
    batched, held = _run(elements, held_keys=4, step=50)
    assert batched == per_time
    assert flink_state.wakes >= times and flink_state.registered >= len(elements) + times
    assert held.wakes < flink_state.wakes / 2, (held.wakes, flink_state.wakes)
    assert held.registered < flink_state.registered / 3, (held.registered,
                                                          flink_state.registered)
