"""BG/NBD: the likelihood, the fit on simulated customers, and properties of the
conditional expectations (the CDNOW fit is in tests/integration/test_profiles_cdnow.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopstream.profiles import BgNbdParams, ProfileError, fit_bgnbd
from shopstream.profiles.bgnbd import log_likelihood

PAPER = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
"""Fader, Hardie & Lee (2005), table 1: the CDNOW calibration fit."""


def simulate(params: BgNbdParams, customers: int, age: float,
             seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``(x, t_x, T)`` from the BG/NBD story itself, everyone aged ``age``."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1.0 / params.alpha, customers)
    dropouts = rng.beta(params.a, params.b, customers)
    x = np.zeros(customers)
    tx = np.zeros(customers)
    for i in range(customers):
        now = 0.0
        while True:
            now += rng.exponential(1.0 / rates[i])
            if now > age:
                break
            x[i] += 1
            tx[i] = now
            if rng.random() < dropouts[i]:
                break
    return x, tx, np.full(customers, age)


def test_fit_recovers_the_parameters_it_simulated() -> None:
    truth = BgNbdParams(r=0.5, alpha=5.0, a=0.8, b=2.5)
    x, tx, age = simulate(truth, 4_000, 52.0, seed=7)
    fitted = fit_bgnbd(x, tx, age)
    assert fitted.r == pytest.approx(truth.r, rel=0.15)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.25)
    assert fitted.a == pytest.approx(truth.a, rel=0.35)
    assert fitted.b == pytest.approx(truth.b, rel=0.45)
    # The fit is a maximum: the likelihood is flat in every log-parameter there.
    theta = np.log([fitted.r, fitted.alpha, fitted.a, fitted.b])
    for k in range(4):
        step = np.zeros(4)
        step[k] = 1e-5
        up = log_likelihood(BgNbdParams(*np.exp(theta + step)), x, tx, age).sum()
        down = log_likelihood(BgNbdParams(*np.exp(theta - step)), x, tx, age).sum()
        assert abs(up - down) / 2e-5 < 0.05


def test_simulated_counts_match_the_model_expectation() -> None:
    x, _, _ = simulate(PAPER, 20_000, 39.0, seed=3)
    assert x.mean() == pytest.approx(PAPER.expected_purchases_new(39.0), rel=0.05)


def test_likelihood_of_no_repeat_is_the_closed_form() -> None:
    # x = 0: P = (alpha / (alpha + T))^r, whatever a and b.
    value = log_likelihood(PAPER, [0], [0.0], [38.86])[0]
    assert value == pytest.approx(PAPER.r * np.log(PAPER.alpha / (PAPER.alpha + 38.86)))


def test_the_paper_worked_example() -> None:
    # FHL 2005, section 4: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks.
    assert PAPER.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize(("x", "tx", "age"), [([1], [5.0], [4.0]), ([0], [2.0], [4.0]),
                                               ([-1], [0.0], [4.0]), ([], [], [])])
def test_inconsistent_summaries_are_refused(x: list[float], tx: list[float],
                                            age: list[float]) -> None:
    with pytest.raises(ProfileError, match="BG/NBD"):
        fit_bgnbd(x, tx, age)


customers = st.tuples(st.integers(0, 40), st.floats(0.0, 1.0), st.floats(0.1, 80.0))
params = st.builds(BgNbdParams, r=st.floats(0.05, 5.0), alpha=st.floats(0.5, 50.0),
                   a=st.floats(0.1, 5.0), b=st.floats(0.1, 10.0))


@settings(max_examples=200, deadline=None)
@given(params, customers)
def test_p_alive_is_a_probability_falling_with_silence(p: BgNbdParams,
                                                       customer: tuple[int, float,
                                                                       float]) -> None:
    x, share, age = customer
    tx = share * age if x > 0 else 0.0
    alive = p.p_alive(x, tx, age)
    assert 0.0 < alive <= 1.0
    older = p.p_alive(x, tx, age + 10.0)
    assert older <= alive + 1e-12
    if x == 0:
        assert alive == 1.0


@settings(max_examples=200, deadline=None)
@given(params.filter(lambda p: p.a > 1.05 or p.a < 0.95), customers,
       st.floats(0.5, 60.0))
def test_expected_purchases_grow_with_the_horizon(p: BgNbdParams,
                                                  customer: tuple[int, float, float],
                                                  horizon: float) -> None:
    x, share, age = customer
    tx = share * age if x > 0 else 0.0
    near = p.expected_purchases(horizon, x, tx, age)
    far = p.expected_purchases(2 * horizon, x, tx, age)
    assert 0.0 <= near <= far * (1 + 1e-9) + 1e-12
    assert np.isfinite(log_likelihood(p, [x], [tx], [age])[0])
