"""``shopstream.api.thread_priority``: what the calling thread gets, and what the threads
it starts afterwards get (they must not inherit a real-time policy)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from shopstream.api.thread_priority import realtime_thread


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling")
def test_threads_started_by_a_realtime_thread_run_normal() -> None:
    seen: dict[str, int | None] = {}

    def loop_thread() -> None:
        seen["got"] = realtime_thread(1, "test")
        seen["own"] = os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
        helper = threading.Thread(target=lambda: seen.update(helper=os.sched_getscheduler(0)))
        helper.start()
        helper.join()

    thread = threading.Thread(target=loop_thread)
    thread.start()
    thread.join()
    if seen["got"] is None:
        pytest.skip("SCHED_FIFO refused here (needs root or CAP_SYS_NICE)")
    assert seen["own"] == os.SCHED_FIFO
    assert seen["helper"] == os.SCHED_OTHER
