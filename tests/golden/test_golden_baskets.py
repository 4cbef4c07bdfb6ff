"""Golden streams for the default pipeline: a hand-written input and the outputs we expect.

The expected files were checked by hand against the rules in
``shopstream.operators.baskets``; regenerate them only with ``pytest --regen-golden``
after a deliberate change, and read the diff.

What the input exercises: ISO and epoch timestamps; an event that arrives 3 s out of
order (a4, within the 5 s bound) and one 30 s late (``late``, to ``late-events``); a line
that is not JSON and a negative price (``dead-letter``); a purchase with ``items`` and
``cartTotal`` (carol); a purchase of the cart (alice: phone + case + one charger =
499 + 15 + 19.99 = 533.99); a cart left alone for 30 minutes (bob: 2 x 12.5 + 8 = 33.0,
abandoned at 10:05 + 30 min); a new cart after a purchase in the same session
(alice's cable, abandoned at end of input 10:40 + 30 min).
"""

from __future__ import annotations

from pathlib import Path

from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

DATA = Path(__file__).parent / "data" / "baskets"
STREAMS = ("basket-completions", "abandoned-baskets", "dead-letter", "late-events")


def test_default_pipeline_matches_the_golden_outputs(tmp_path: Path, regen_golden: bool) -> None:
    summary = EmbeddedRunner(default_topology(), tmp_path).run(DATA / "input.jsonl")
    assert (summary.events, summary.dead_letters, summary.late_events) == (12, 2, 1)
    for stream in STREAMS:
        produced = (tmp_path / f"{stream}.jsonl").read_text()
        # The dead letters name the input file; make that independent of the checkout.
        produced = produced.replace(str(DATA / "input.jsonl"), "input.jsonl")
        expected_path = DATA / f"expected-{stream}.jsonl"
        if regen_golden:
            expected_path.write_text(produced)
        assert produced == expected_path.read_text(), stream
