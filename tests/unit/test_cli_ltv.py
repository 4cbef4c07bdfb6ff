"""``shopstream ltv fit``: CSV reading, one-line errors, the fit and its holdout."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from shopstream.cli import main


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("", "is empty"),
    ("customer_id,day,amount\nc,1997-01-01,1\n", "line 1: missing column(s) date"),
    ("customer_id,date,amount\nc,1997-02-30,1\n", "line 2: date '1997-02-30' is not"),
    ("customer_id,date,amount\nc,1997-01-01,1\nc,1997-01-02,ten\n",
     "line 3: amount 'ten' is not a number"),
    ("customer_id,date,amount\nc,1997-01-01,-5\n", "line 2: amount '-5' must be"),
    ("customer_id,date,amount\nc,1997-01-01,nan\n", "line 2: amount 'nan' must be"),
    ("customer_id,date,amount\nc,1997-01-01\n", "line 2: expected 3 fields"),
    ("customer_id,date,amount\n,1997-01-01,3\n", "line 2: empty customer_id"),
    ("customer_id,date,amount\n", "no transactions"),
])
def test_bad_input_is_one_line_naming_line_and_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    assert main(["ltv", "fit", "--transactions", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("shopstream ltv: error: ")
    assert expected in err and err.count("\n") == 1


def test_missing_file_and_bad_options(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ltv", "fit", "--transactions", str(tmp_path / "nope.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    path = _write(tmp_path, "customer_id,date,amount\nc,1997-01-05,1\n")
    assert main(["ltv", "fit", "--transactions", str(path),
                 "--calibration-end", "1997-01-01"]) == 1
    assert "before the first transaction" in capsys.readouterr().err
    assert main(["ltv", "fit", "--transactions", str(path), "--period-days", "0"]) == 1
    assert "--period-days must be a positive" in capsys.readouterr().err


def _synthetic_log(customers: int, seed: int) -> str:
    """Customers buying at random rates and dropping out at random."""
    rng = random.Random(seed)
    start = date(2020, 1, 1)
    rows = ["amount,customer_id,date,note"]  # any column order, extra columns ignored
    for c in range(customers):
        day = start + timedelta(days=rng.randrange(60))
        rate = rng.gammavariate(1.0, 1 / 20)  # purchases per day
        drop = rng.betavariate(1.0, 3.0)
        mean = rng.gammavariate(5.0, 8.0)
        while day < start + timedelta(days=400):
            rows.append(f"{rng.gammavariate(4.0, mean / 4):.2f},c{c},{day.isoformat()},x")
            if rng.random() < drop:
                break
            day += timedelta(days=1 + int(rng.expovariate(rate)))
    return "\n".join(rows) + "\n"


def test_fit_with_holdout_text_and_json(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _synthetic_log(600, seed=3))
    args = ["ltv", "fit", "--transactions", str(path), "--calibration-end", "2020-08-31"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "BG/NBD       r " in text and "Gamma-Gamma  p " in text
    assert "holdout 2020-09-01 to " in text and "MAE per customer" in text
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(result["gamma_gamma"]) == {"p", "q", "gamma"}
    holdout = result["holdout"]
    assert holdout["start"] == "2020-09-01" and holdout["actual_total"] > 0
    # The model is fitted on the same process that made the data: its holdout total is
    # near the actual one, and it beats predicting zero purchases for everyone.
    assert abs(holdout["predicted_total"] - holdout["actual_total"]) \
        < 0.35 * holdout["actual_total"]
    assert holdout["mae_per_customer"] < holdout["actual_total"] / result["customers"]


def test_no_holdout_without_later_data(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _synthetic_log(300, seed=5))
    assert main(["ltv", "fit", "--transactions", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["holdout"] is None and result["customers"] == 300
