"""``shopstream.api.thread_priority``: what the calling thread gets, and what the threads
it starts afterwards get (they must not inherit a real-time policy)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from shopstream.api.thread_priority import realtime_thread, thread_slice_ns


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


def test_a_slice_in_an_unknown_form_is_none_not_a_traceback(tmp_path: Path) -> None:
    sched = tmp_path / "sched"
    for text in ("se.slice  :  abc\n", "se.slice\n", "se.slice : 1.5\n"):
        sched.write_text(text)
        assert thread_slice_ns(sched) is None
    sched.write_text("se.vruntime : 1\nse.slice : 2800000\n")
    assert thread_slice_ns(sched) == 2_800_000


def test_serve_config_refuses_a_negative_cpu_naming_field_and_value() -> None:
    from shopstream.api.server import ServeConfig
    from shopstream.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ServeConfig.read_cpus .* got \(1, -1\)"):
        ServeConfig(store="f.db", read_cpus=(1, -1))
    assert ServeConfig(store="f.db", pipeline_cpus=[0]).pipeline_cpus == (0,)  # type: ignore[arg-type]
