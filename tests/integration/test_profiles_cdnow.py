"""``shopstream datasets fetch cdnow``, then BG/NBD and Gamma-Gamma on the 39-week
calibration period of Fader, Hardie & Lee (2005): the published parameters, and the
holdout purchases predicted per customer against the actual ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopstream.cli import main
from shopstream.datasets.cdnow import calibration_summaries, load_purchases
from shopstream.profiles import fit_bgnbd, fit_gamma_gamma


@pytest.mark.integration
def test_cdnow_fits_match_the_papers(tmp_path: Path, request: pytest.FixtureRequest,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cache = request.config.cache
    directory = Path(cache.mkdir("shopstream-datasets")) if cache else tmp_path / "data"
    assert main(["datasets", "fetch", "cdnow", "--dir", str(directory)]) == 0
    path = Path(capsys.readouterr().out.split()[0])
    summaries = calibration_summaries(load_purchases(path))
    assert len(summaries) == 2_357
    x = np.array([s.frequency for s in summaries], dtype=float)
    tx = np.array([s.recency for s in summaries])
    age = np.array([s.age for s in summaries])

    bg = fit_bgnbd(x, tx, age)
    # FHL 2005: r 0.243, alpha 4.414, a 0.793, b 2.426 (log-likelihood -9582.4).
    assert (round(bg.r, 3), round(bg.alpha, 3), round(bg.a, 3), round(bg.b, 3)) == \
        (0.243, 4.414, 0.793, 2.426)

    repeat = x > 0
    spend = np.array([s.average_value for s in summaries])[repeat]
    assert repeat.sum() == 946 and round(float(spend.mean()), 2) == 35.08
    gg = fit_gamma_gamma(x[repeat], spend)
    # Fader & Hardie, "The Gamma-Gamma model of monetary value": 6.25, 3.74, 15.44.
    assert (round(gg.p, 2), round(gg.q, 2), round(gg.gamma, 2)) == (6.25, 3.74, 15.44)

    actual = np.array([s.holdout_frequency for s in summaries], dtype=float)
    predicted = np.asarray(bg.expected_purchases(39.0, x, tx, age))
    mae = float(np.mean(np.abs(predicted - actual)))
    print(f"holdout: predicted {predicted.sum():.1f}, actual {actual.sum():.0f}, "
          f"MAE per customer {mae:.3f}")
    # Measured: 1,653.4 predicted against 1,882 actual transaction days, MAE 0.78545.
    # lifetimes 0.11.3 on the same split (calibration_and_holdout_data with freq="D",
    # freq_multiplier=7, then BetaGeoFitter) predicts 1,653.4087 with MAE 0.785454: the
    # bound below is its error, so this fit is no worse than the lifetimes package's.
    assert abs(predicted.sum() - actual.sum()) / actual.sum() < 0.15
    assert mae <= 0.785455
