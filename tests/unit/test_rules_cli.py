"""``shopstream rules mine``: outputs and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import shopstream.cli
from shopstream.cli import main


@pytest.fixture(autouse=True)
def _only_our_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other sub-commands are developed in parallel; these tests need only this one.
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("rules",))


BASKETS = "basket_id,item\n1,a\n1,b\n2,a\n2,b\n2,c\n3,a\n3,c\n4,b\n"


def _baskets(tmp_path: Path, text: str = BASKETS) -> Path:
    path = tmp_path / "baskets.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _mine(tmp_path: Path, *extra: str) -> int:
    return main(["rules", "mine", "--baskets", str(_baskets(tmp_path)), "--min-support", "0.5",
                 "--min-confidence", "0.6", "--min-lift", "0", "--no-progress", *extra])


def test_jsonl_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules.jsonl"
    assert _mine(tmp_path, "--output", str(out)) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["antecedents"], r["consequent"]) for r in records] == [
        (["c"], "a"), (["a"], "c"), (["a"], "b"), (["b"], "a")]
    assert records[0] == {"antecedents": ["c"], "consequent": "a", "support": 0.5,
                          "confidence": 1.0, "lift": 4 / 3,
                          "interestingness": 0.4 + min(4 / 30, 0.3) + 0.3,
                          "count": 2, "antecedentCount": 2, "consequentCount": 3,
                          "basketCount": 4}
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("rules: 4 baskets, 3 items, ")
    assert "4 rules in" in summary


def test_csv_output(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "rules.csv"
    assert _mine(tmp_path, "--output", str(out), "--format", "csv", "--max-len", "2") == 0
    with out.open(newline="") as source:
        rows = list(csv.DictReader(source))
    assert rows[0]["antecedents"] == "c"
    assert rows[0]["antecedentCount"] == "2"
    assert len(rows) == 4


@pytest.mark.parametrize(("text", "message"), [
    (None, "does not exist"),
    ("", "is empty"),
    ("order,product\n1,a\n", "expected header 'basket_id,item', got 'order,product'"),
    ("basket_id,item\n", "has a header but no baskets"),
    ("basket_id,item\n1,a,extra\n", ":2: expected 2 non-empty columns"),
])
def test_input_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   text: str | None, message: str) -> None:
    path = tmp_path / "in.csv"
    if text is not None:
        path.write_text(text)
    code = main(["rules", "mine", "--baskets", str(path), "--output", str(tmp_path / "o"),
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("shopstream rules: error: ")
    assert message in err


@pytest.mark.parametrize(("flag", "value"), [("--min-support", "0"), ("--min-confidence", "2"),
                                             ("--min-lift", "-1"), ("--max-len", "1")])
def test_bad_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        flag: str, value: str) -> None:
    code = main(["rules", "mine", "--baskets", str(_baskets(tmp_path)), "--output",
                 str(tmp_path / "o"), flag, value, "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert f"got {value}" in err.replace(".0", "") and "RulesConfig." in err
