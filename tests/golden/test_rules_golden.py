"""Golden case: a hand-made baskets CSV and its hand-computed rules (see data/rules)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

import shopstream.cli
from shopstream.cli import main

DATA = Path(__file__).parent / "data" / "rules"


def test_rules_mine_matches_golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   regen_golden: bool) -> None:
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("rules",))
    out = tmp_path / "rules.jsonl"
    code = main(["rules", "mine", "--baskets", str(DATA / "baskets.csv"), "--min-support",
                 "0.25", "--min-confidence", "0.6", "--min-lift", "1.0", "--max-len", "3",
                 "--output", str(out), "--no-progress"])
    assert code == 0
    if regen_golden:
        (DATA / "expected.jsonl").write_text(out.read_text())
    assert out.read_text() == (DATA / "expected.jsonl").read_text()


def test_golden_values_are_the_hand_computed_fractions() -> None:
    # (antecedent, consequent): (count, antecedent count, consequent count), N = 8
    hand = {("milk", "bread"): (3, 4, 5), ("bread", "milk"): (3, 5, 4),
            ("chips", "beer"): (2, 2, 3), ("eggs", "milk"): (2, 2, 4),
            ("butter", "bread"): (2, 2, 5), ("beer", "chips"): (2, 3, 2)}
    records = [json.loads(line) for line in (DATA / "expected.jsonl").read_text().splitlines()]
    assert [(r["antecedents"][0], r["consequent"]) for r in records] == list(hand)
    for record in records:
        count, ante, cons = hand[(record["antecedents"][0], record["consequent"])]
        support, confidence = Fraction(count, 8), Fraction(count, ante)
        lift = Fraction(count * 8, ante * cons)
        interest = Fraction(2, 5) * confidence + min(lift / 10, Fraction(3, 10)) \
            + min(10 * support, Fraction(3, 10))
        assert (record["count"], record["antecedentCount"], record["consequentCount"],
                record["basketCount"]) == (count, ante, cons, 8)
        for key, exact in (("support", support), ("confidence", confidence), ("lift", lift),
                           ("interestingness", interest)):
            assert record[key] == pytest.approx(float(exact), rel=1e-15)
