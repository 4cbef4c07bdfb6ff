"""A timer deleted and registered again fires in its new place, before and after restore."""

from __future__ import annotations

from shopstream.runners.embedded.timers import TimerQueue


def _drain(queue: TimerQueue) -> list[tuple[int, int, str]]:
    fired = []
    while queue.heap:
        timer = queue.pop_raw()
        if timer is not None:
            fired.append(timer)
    return fired


def test_a_re_registered_timer_fires_once_in_its_new_place() -> None:
    queue = TimerQueue()
    queue.register(0, "a", 100)       # seq 1
    queue.register(0, "b", 100)       # seq 2
    queue.delete(0, "a", 100)
    queue.register(0, "a", 100)       # seq 3: now after b
    snapshot = queue.snapshot()
    assert _drain(queue) == [(100, 0, "b"), (100, 0, "a")]
    restored = TimerQueue()
    restored.restore(snapshot)
    assert _drain(restored) == [(100, 0, "b"), (100, 0, "a")]
    assert len(queue) == len(restored) == 0


def test_peek_skips_a_stale_entry_of_a_re_registered_timer() -> None:
    queue = TimerQueue()
    queue.register(0, "a", 50)
    queue.delete(0, "a", 50)
    queue.register(0, "b", 70)
    queue.register(0, "a", 50)
    assert queue.peek_time() == 50
    assert queue.pop() == (50, 0, "a")
    assert queue.pop() == (70, 0, "b")
    assert queue.peek_time() is None
