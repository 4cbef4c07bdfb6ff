"""Resuming a checkpoint written before revenue and top products ran in two phases.

tests/unit/data/one_phase_checkpoint holds a real checkpoint of the code of 14d3f7b
(make_fixture.py there says how it was written): killed after 8 lines, with an open
window of both statistics (one product still without a name), their closing timers, and
an event of that window still buffered. Resumed by this code, the outputs must be those of
an uninterrupted run of the old code (``expected/``), which are also this code's.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from shopstream.errors import CheckpointError
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig

FIXTURE = Path(__file__).parent / "data" / "one_phase_checkpoint"
STREAMS = ("revenue-stats", "top-products")


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(FIXTURE / "ckpt", tmp_path / "ckpt")
    shutil.copytree(FIXTURE / "out", tmp_path / "out")
    return tmp_path / "ckpt", tmp_path / "out"


def test_a_one_phase_checkpoint_resumes_to_the_uninterrupted_old_output(
        tmp_path: Path) -> None:
    ckpt, out = _copy(tmp_path)
    summary = EmbeddedRunner(default_topology(), out, RunnerConfig(), ckpt).run(
        FIXTURE / "input.jsonl", resume=True)
    assert summary.resumed_at_line == 8
    EmbeddedRunner(default_topology(), tmp_path / "whole").run(FIXTURE / "input.jsonl")
    for stream in STREAMS:
        resumed = (out / f"{stream}.jsonl").read_bytes()
        assert resumed == (FIXTURE / "expected" / f"{stream}.jsonl").read_bytes(), stream
        assert resumed == (tmp_path / "whole" / f"{stream}.jsonl").read_bytes(), stream


def test_the_resumed_run_checkpoints_the_new_shape_and_resumes_again(tmp_path: Path) -> None:
    ckpt, out = _copy(tmp_path)
    EmbeddedRunner(default_topology(), out, RunnerConfig(), ckpt).run(
        FIXTURE / "input.jsonl", resume=True)
    saved = pickle.loads((ckpt / "checkpoint.pkl").read_bytes())["snapshot"]["engine"]
    assert list(saved["stages"]) == list(default_topology().stage_names())
    EmbeddedRunner(default_topology(), out, RunnerConfig(), ckpt).run(
        FIXTURE / "input.jsonl", resume=True)
    for stream in STREAMS:
        assert (out / f"{stream}.jsonl").read_bytes() == (
            FIXTURE / "expected" / f"{stream}.jsonl").read_bytes()


def test_old_timers_fire_on_their_stage_not_on_the_stage_now_at_their_index() -> None:
    saved = pickle.loads((FIXTURE / "ckpt" / "checkpoint.pkl").read_bytes())["snapshot"]
    old_order = list(saved["engine"]["stages"])
    engine = Engine(default_topology(), 5_000, lambda out: None)
    engine.restore(saved["engine"])
    now = [stage.uid for stage in engine.topology.stages]
    restored = engine.timers.snapshot()["heap"]
    # One-phase trending's timers move to its partial stage's key groups (see
    # tests/unit/test_trending_two_phase.py).
    trending = ("trending", "trending-partials")
    assert sorted((ts, now[index], key) for ts, _, index, key in restored
                  if now[index] not in trending) == sorted(
        (ts, old_order[index], key) for ts, _, index, key in saved["engine"]["timers"]["heap"]
        if old_order[index] not in trending)
    assert old_order.index("revenue") != now.index("revenue")


def test_a_timer_of_a_stage_this_pipeline_lacks_is_refused() -> None:
    saved = pickle.loads((FIXTURE / "ckpt" / "checkpoint.pkl").read_bytes())["snapshot"]
    stages = saved["engine"]["stages"]
    stages["retired"] = {"state": {}, "broadcast": None}
    timers = saved["engine"]["timers"]
    timers["heap"].append((2**40, timers["seq"] + 1, len(stages) - 1, "k"))
    engine = Engine(default_topology(), 5_000, lambda out: None)
    with pytest.raises(CheckpointError, match=r"timer of stage 'retired' .key 'k'. that this "
                       r"pipeline does not run"):
        engine.restore(saved["engine"])
