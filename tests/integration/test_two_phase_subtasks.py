"""Two-phase revenue and top products on Flink at parallelism 2 (issue #14).

The partial stages (keyed by key group) must spread over both subtasks, the merge stages
(on the one global key) run on one, and the records equal the embedded runner's. Each
stage of the job records the thread that handled each element: in PyFlink's thread mode
every subtask is its own task thread calling into the one interpreter, so the number of
distinct threads is the number of subtasks that did work.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from shopstream.events import streams
from shopstream.events.records import Output
from shopstream.operators.baskets import BasketTracker
from shopstream.operators.revenue import RevenueMergeOperator, RevenuePartialOperator
from shopstream.operators.top_products import (
    TopProductsMergeOperator,
    TopProductsPartialOperator,
)
from shopstream.pipeline import by_key_group, by_session, global_key
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.sim import SimulationConfig, write_jsonl
from shopstream.state import Context
from shopstream.topology import Stage, Topology

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def _record(log: str, stage: str, key: str) -> None:
    line = f"{stage}\t{key}\t{threading.get_ident()}\n".encode()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class LoggedRevenuePartials(RevenuePartialOperator):
    log = ""

    def process_element(self, element: Any, ctx: Context) -> Iterable[Output]:
        _record(self.log, self.name, ctx.key)
        return super().process_element(element, ctx)


class LoggedRevenueMerge(RevenueMergeOperator):
    log = ""

    def process_element(self, element: Any, ctx: Context) -> Iterable[Output]:
        _record(self.log, self.name, ctx.key)
        return super().process_element(element, ctx)


def topology(log: str) -> Topology:
    groups = by_key_group(8)
    partials, merge = LoggedRevenuePartials(), LoggedRevenueMerge()
    partials.log = merge.log = log
    return Topology((
        Stage(BasketTracker(), (streams.EVENTS,), key_by=by_session),
        Stage(partials, (streams.BASKET_COMPLETIONS,), key_by=groups),
        Stage(TopProductsPartialOperator(), (streams.BASKET_COMPLETIONS,), key_by=groups),
        Stage(merge, (streams.REVENUE_PARTIALS,), key_by=global_key, event_time_order=False),
        Stage(TopProductsMergeOperator(), (streams.TOP_PRODUCTS_PARTIALS,),
              key_by=global_key, event_time_order=False),
    ), sink_streams=(streams.REVENUE_STATS, streams.TOP_PRODUCTS))


def test_partials_run_on_both_subtasks_and_merge_to_the_embedded_records(
        tmp_path: Path) -> None:
    from shopstream.runners.flink import FlinkConfig, FlinkRunner, pyflink_available

    if not pyflink_available():
        pytest.skip("PyFlink is not installed: pip install 'shopstream[flink]'")
    source = tmp_path / "events.jsonl"
    write_jsonl(SimulationConfig(sessions=300, seed=7, end_ms=1_767_600_000_000,
                                 disorder_ms=3_000), source, progress=False)
    embedded_log, flink_log = str(tmp_path / "embedded.log"), str(tmp_path / "flink.log")
    EmbeddedRunner(topology(embedded_log), tmp_path / "embedded").run(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyFlink and Beam warn on import
        FlinkRunner(topology(flink_log), tmp_path / "flink",
                    FlinkConfig(parallelism=2)).run(source)

    threads: dict[str, set[str]] = {}
    keys: dict[str, set[str]] = {}
    for line in Path(flink_log).read_text().splitlines():
        stage, key, thread = line.split("\t")
        threads.setdefault(stage, set()).add(thread)
        keys.setdefault(stage, set()).add(key)
    assert len(keys["revenue-partials"]) == 8
    assert len(threads["revenue-partials"]) == 2, threads
    assert keys["revenue"] == {"all"}
    assert len(threads["revenue"]) == 1, threads
    for stream in (streams.REVENUE_STATS, streams.TOP_PRODUCTS):
        embedded = (tmp_path / "embedded" / f"{stream}.jsonl").read_text().splitlines()
        flink = (tmp_path / "flink" / f"{stream}.jsonl").read_text().splitlines()
        assert embedded, stream
        assert sorted(flink) == sorted(embedded), stream
