"""Two-phase trending (issue #14): per key group of products, merged on the global key.

* on any events (items, quantities, kinds, gaps longer than the window, equal times, many
  equal scores) and any number of key groups, the two-phase stages emit exactly the
  records of the one-phase operator: same lists, same order (ties by product id), same
  times;
* a checkpoint of the one-phase pipeline (tests/unit/data/one_phase_checkpoint, written by
  14d3f7b with an open trending window and its timer) resumes to the uninterrupted run's
  trending lists and recommendations, byte for byte.
"""

from __future__ import annotations

import pickle
import shutil
import zlib
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.events import EventType, Item, ShopperEvent, streams
from shopstream.operators.trending import TrendingOperator
from shopstream.operators.trending_partials import (
    TrendAction,
    TrendingActivityOperator,
    TrendingMergeOperator,
    TrendingPartialOperator,
)
from shopstream.pipeline import PipelineConfig, by_product_group, default_topology
from shopstream.recommend.trending import TrendingConfig
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.harness import run_topology
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig
from shopstream.topology import Stage, Topology

#: The default pipeline with trending in two phases (off by default).
TWO_PHASE = PipelineConfig(two_phase_trending=True)

SLIDE = 60_000
PRODUCTS = tuple(f"p{i}" for i in range(9))
KINDS = (EventType.VIEW_PRODUCT, EventType.ADD_TO_CART, EventType.PURCHASE,
         EventType.PAGE_VIEW)
FIXTURE = Path(__file__).parent / "data" / "one_phase_checkpoint"


def _one_phase(cfg: TrendingConfig) -> Topology:
    return Topology((Stage(TrendingOperator(cfg), (streams.EVENTS,), key_by=lambda e: "all"),),
                    sink_streams=(streams.TRENDING_PRODUCTS,))


def _two_phase(cfg: TrendingConfig, groups: int) -> Topology:
    return Topology((
        Stage(TrendingActivityOperator(cfg), (streams.EVENTS,), key_by=lambda e: e.session_id),
        Stage(TrendingPartialOperator(cfg), (streams.TRENDING_ACTIVITY,),
              key_by=by_product_group(groups)),
        Stage(TrendingMergeOperator(cfg), (streams.TRENDING_PARTIALS,),
              key_by=lambda p: "all", event_time_order=False),
    ), sink_streams=(streams.TRENDING_PRODUCTS,))


@st.composite
def shopper_events(draw: st.DrawFn) -> list[ShopperEvent]:
    """Up to 40 events; gaps from 0 ms to longer than the window, so windows empty out,
    chains end and restart, and pane weights rebase."""
    events = []
    ts = draw(st.integers(0, 3 * SLIDE))
    for n in range(draw(st.integers(1, 40))):
        ts += draw(st.sampled_from((0, 1, 999, SLIDE - 1, SLIDE, 3 * SLIDE, 20 * SLIDE)))
        kind = draw(st.sampled_from(KINDS))
        quantity = draw(st.sampled_from((None, 0, 1, 2, 5)))
        if kind == EventType.PURCHASE and draw(st.booleans()):
            items = tuple(Item(p, quantity=draw(st.sampled_from((0, 1, 3))))
                          for p in draw(st.lists(st.sampled_from(PRODUCTS), min_size=1,
                                                 max_size=4)))
            events.append(ShopperEvent(kind, ts, f"s{n % 3}", items=items))
        else:
            product = draw(st.one_of(st.none(), st.sampled_from(PRODUCTS)))
            events.append(ShopperEvent(kind, ts, f"s{n % 3}", product_id=product,
                                       quantity=quantity))
    return events


@settings(max_examples=300, deadline=None)
@given(events=shopper_events(), groups=st.sampled_from((1, 2, 3, 8)),
       top_n=st.integers(1, 4), panes=st.integers(1, 4))
def test_two_phase_emits_the_one_phase_records(events: list[ShopperEvent], groups: int,
                                               top_n: int, panes: int) -> None:
    # Capacity at least the products: no sketch evicts (see the module's caveat).
    cfg = TrendingConfig(window_ms=panes * SLIDE, slide_ms=SLIDE, capacity=len(PRODUCTS),
                         top_n=top_n)
    expected = run_topology(_one_phase(cfg), events)
    assert run_topology(_two_phase(cfg, groups), events) == expected


def test_equal_scores_across_groups_keep_product_id_order() -> None:
    """Nine products with the same score over three groups, top 4: the lowest ids win, as
    in one phase, whichever group each is in and whatever its tracker's base pane."""
    cfg = TrendingConfig(window_ms=4 * SLIDE, slide_ms=SLIDE, capacity=9, top_n=4)
    events = [ShopperEvent(EventType.VIEW_PRODUCT, 0, "s", product_id="p0")]
    events += [ShopperEvent(EventType.ADD_TO_CART, 3 * SLIDE + i, "s", product_id=p)
               for i, p in enumerate(reversed(PRODUCTS))]
    groups = {by_product_group(3)(TrendAction(p, 1.0)) for p in PRODUCTS}
    assert len(groups) == 3
    two = run_topology(_two_phase(cfg, 3), events)
    assert two == run_topology(_one_phase(cfg), events)
    assert [p.product_id for p in two[3].record.products] == ["p0", "p1", "p2", "p3"]


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(FIXTURE / "ckpt", tmp_path / "ckpt")
    shutil.copytree(FIXTURE / "out", tmp_path / "out")
    return tmp_path / "ckpt", tmp_path / "out"


def test_a_one_phase_checkpoint_resumes_to_the_uninterrupted_trending(tmp_path: Path) -> None:
    ckpt, out = _copy(tmp_path)
    summary = EmbeddedRunner(default_topology(TWO_PHASE), out, RunnerConfig(), ckpt).run(
        FIXTURE / "input.jsonl", resume=True)
    assert summary.resumed_at_line == 8
    EmbeddedRunner(default_topology(TWO_PHASE), tmp_path / "whole").run(FIXTURE / "input.jsonl")
    for stream in (streams.TRENDING_PRODUCTS, streams.PRODUCT_RECOMMENDATIONS):
        resumed = (out / f"{stream}.jsonl").read_bytes()
        assert resumed, stream
        assert resumed == (tmp_path / "whole" / f"{stream}.jsonl").read_bytes(), stream
    # The checkpoint the resumed run wrote is two-phase: it resumes again the same way.
    saved = pickle.loads((ckpt / "checkpoint.pkl").read_bytes())["snapshot"]["engine"]
    assert "trend" not in saved["stages"]["trending"]["state"]
    assert saved["stages"]["trending-partials"]["state"]["trend"]


def test_the_one_phase_tracker_and_timer_move_to_the_key_groups() -> None:
    saved = pickle.loads((FIXTURE / "ckpt" / "checkpoint.pkl").read_bytes())["snapshot"]
    old = saved["engine"]
    old_order = list(old["stages"])
    tracker = old["stages"]["trending"]["state"]["trend"]["all"]
    old_timers = [ts for ts, _, index, key in old["timers"]["heap"]
                  if old_order[index] == "trending"]
    assert old_timers and key_groups(tracker)
    engine = Engine(default_topology(TWO_PHASE), 5_000, lambda out: None)
    engine.restore(old)
    assert old["stages"]["trending"]["state"]["trend"]["all"] is tracker  # not changed
    now = [stage.uid for stage in engine.topology.stages]
    moved = sorted((ts, now[index], key) for ts, _, index, key in engine.timers.snapshot()["heap"]
                   if now[index].startswith("trending"))
    assert moved == sorted((ts, "trending-partials", group)
                           for ts in old_timers for group in key_groups(tracker))


def key_groups(tracker: Any) -> set[str]:
    """The default pipeline's key groups of the products a one-phase tracker holds."""
    return {f"g{zlib.crc32(p.encode()) % 8}" for _, sketch in tracker._panes
            for p in sketch.counts}
