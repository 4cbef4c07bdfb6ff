"""Timers at a whole number of milliseconds given as a float (from a configuration) work;
a fractional time is refused with the stage and key."""

from __future__ import annotations

import pytest

from shopstream.runners.embedded.timers import SEQ_BITS, TimerQueue
from shopstream.state.errors import StateError


def test_a_whole_float_time_registers_as_its_int_and_deletes_by_either() -> None:
    queue = TimerQueue()
    queue.register(0, "s1", 1.8e6)  # type: ignore[arg-type]
    queue.register(0, "s1", 1_800_000)  # the same timer: registered once
    assert len(queue) == 1 and queue.heap[0] >> SEQ_BITS == 1_800_000
    queue.delete(0, "s1", 1.8e6)  # type: ignore[arg-type]
    assert len(queue) == 0


def test_a_fractional_time_is_refused_naming_the_stage_and_key() -> None:
    with pytest.raises(StateError, match=r"stage #3, key 's1': .* got 1.5"):
        TimerQueue().register(3, "s1", 1.5)  # type: ignore[arg-type]
