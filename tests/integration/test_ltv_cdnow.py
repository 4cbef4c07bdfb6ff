"""``shopstream ltv cdnow-csv`` then ``ltv fit`` on CDNOW: the published parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopstream.cli import main


@pytest.mark.integration
def test_ltv_fit_on_cdnow_prints_the_published_parameters(
        tmp_path: Path, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    cache = request.config.cache
    directory = Path(cache.mkdir("shopstream-datasets")) if cache else tmp_path / "data"
    csv_path = tmp_path / "cdnow.csv"
    assert main(["ltv", "cdnow-csv", "--dir", str(directory), "--output", str(csv_path)]) == 0
    assert csv_path.read_text().splitlines()[:2] == ["customer_id,date,amount",
                                                     "0001,1997-01-01,29.33"]
    capsys.readouterr()
    args = ["ltv", "fit", "--transactions", str(csv_path), "--calibration-end", "1997-09-30"]
    assert main(args) == 0
    text = capsys.readouterr().out
    # Fader, Hardie & Lee (2005) and Fader & Hardie (2013).
    assert "r 0.243  alpha 4.414  a 0.793  b 2.426" in text
    assert "p 6.25  q 3.74  gamma 15.44" in text
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["customers"], result["repeat_buyers"]) == (2_357, 946)
    bg, gg = result["bgnbd"], result["gamma_gamma"]
    assert [float(f"{bg[k]:.2g}") for k in ("r", "alpha", "a", "b")] == [0.24, 4.4, 0.79, 2.4]
    assert [float(f"{gg[k]:.3g}") for k in ("p", "q", "gamma")] == [6.25, 3.74, 15.4]
    holdout = result["holdout"]
    assert holdout["actual_total"] == 1_882 and holdout["periods"] == 39.0
    assert round(holdout["predicted_total"], 1) == 1653.4
    # lifetimes 0.11.3 on the same split: MAE 0.785454 (tests/integration/test_profiles_cdnow.py).
    assert holdout["mae_per_customer"] <= 0.785455
