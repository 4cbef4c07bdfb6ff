"""One conformance suite, every runner: the same inputs give the same outputs per key.

Three kinds of evidence, each run on the embedded runner and on Flink at parallelism 1
and 2 (the ``runner`` fixture):

* golden streams: the hand-checked inputs and expected outputs of ``tests/golden`` for
  every operator of the default pipeline, compared per key as multisets: baskets,
  abandonment and fraud here; revenue, top products and the recommender's trending,
  learning, list publishing and per-shopper stages with their broadcast inputs in
  ``test_parity_golden_windows.py``;
* the default pipeline on a simulated input delivered out of order beyond the watermark
  bound, with malformed lines and catalog changes (``test_parity_simulated.py``);
* the same input sorted and shuffled within the bound gives the same outputs
  (``test_parity_arrival_order.py``).

The suite is split in modules so that ``--dist loadscope`` runs its Flink jobs on both
pytest workers (a module stays on one worker).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from parity_kit import GOLDEN, ParityRunner, check_golden_stream, parity_topology

from shopstream.events import streams

#: (golden case, stream): the operator behind each stream, checked on its own input.
GOLDEN_CASES = [
    ("baskets", streams.BASKET_COMPLETIONS),
    ("baskets", streams.ABANDONED_BASKETS),
    ("baskets", streams.LATE_EVENTS),
    ("baskets", streams.DEAD_LETTER),
    ("abandonment", streams.CART_ABANDONMENT),
    ("fraud", streams.FRAUD_ALERTS),
]


@pytest.mark.parametrize(("case", "stream"), GOLDEN_CASES,
                         ids=[f"{c}:{s}" for c, s in GOLDEN_CASES])
def test_golden_stream_per_key(runner: ParityRunner, case: str, stream: str) -> None:
    check_golden_stream(runner, case, stream)


def test_flink_says_what_it_cannot_run_in_one_line(tmp_path: Path) -> None:
    from shopstream.runners.flink import FlinkRunner, FlinkUnsupportedError
    from shopstream.topology import Stage, Topology

    topology = parity_topology()
    learner = Stage(topology.stages[-1].operator, (streams.BASKET_COMPLETIONS,),
                    lambda _: "all", broadcast_inputs=(streams.EVENTS,))
    with pytest.raises(FlinkUnsupportedError, match="does not broadcast events") as info:
        FlinkRunner(Topology((*topology.stages[:-1], learner), ()), tmp_path)
    assert "\n" not in str(info.value)


def test_cli_engine_flink_says_what_it_cannot_do_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shopstream.cli import main

    source = GOLDEN / "baskets" / "input.jsonl"
    base = ["run", "--engine", "flink", "--input", str(source),
            "--output-dir", str(tmp_path / "out")]
    for extra, needle in ((["--store", str(tmp_path / "f.db")], "does not support --store"),
                          (["--resume", "--checkpoint-dir", str(tmp_path)],
                           "no complete Flink checkpoint")):
        assert main([*base, *extra]) != 0
        err = capsys.readouterr().err.strip()
        assert needle in err
        assert len(err.splitlines()) == 1, err
