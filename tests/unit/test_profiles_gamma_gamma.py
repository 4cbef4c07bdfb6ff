"""Gamma-Gamma spend model and the discounted CLV."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from shopstream.profiles import (
    BgNbdParams,
    GammaGammaParams,
    ProfileError,
    customer_lifetime_value,
    fit_gamma_gamma,
)
from shopstream.profiles.gamma_gamma import gamma_gamma_log_likelihood

NOTE = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
"""Fader & Hardie, "The Gamma-Gamma model of monetary value": the CDNOW fit."""
BG = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.mark.parametrize("x", [1, 2, 5])
def test_density_of_the_average_integrates_to_one(x: int) -> None:
    def density(m: float) -> float:
        return float(np.exp(gamma_gamma_log_likelihood(NOTE, [x], [m])[0]))

    total, _ = quad(density, 0.0, np.inf, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_fit_recovers_the_parameters_it_simulated() -> None:
    rng = np.random.default_rng(11)
    truth = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, 20_000)
    x = rng.integers(1, 8, 20_000)
    averages = np.array([rng.gamma(truth.p, 1.0 / n, k).mean() for n, k in zip(nu, x,
                                                                                strict=True)])
    fitted = fit_gamma_gamma(x, averages)
    assert fitted.p == pytest.approx(truth.p, rel=0.15)
    assert fitted.q == pytest.approx(truth.q, rel=0.15)
    assert fitted.gamma == pytest.approx(truth.gamma, rel=0.2)


def test_customers_without_repeat_spend_are_refused() -> None:
    with pytest.raises(ProfileError, match="customer #1"):
        fit_gamma_gamma([2, 0], [10.0, 0.0])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50), st.floats(0.01, 1_000.0))
def test_expected_spend_lies_between_the_population_and_the_customer(x: int,
                                                                     m: float) -> None:
    population = NOTE.p * NOTE.gamma / (NOTE.q - 1.0)
    expected = NOTE.expected_average_value(x, m)
    low, high = sorted((population, m if x else population))
    assert low * (1 - 1e-12) <= expected <= high * (1 + 1e-12)


def test_clv_is_the_discounted_sum_and_grows_with_the_horizon() -> None:
    kwargs = {"frequency": 2, "recency": 30.43, "age": 38.86, "average_value": 30.0,
              "periods_per_step": 4.0}
    undiscounted = customer_lifetime_value(BG, NOTE, horizon_steps=10, discount_rate=0.0,
                                           **kwargs)
    spend = NOTE.expected_average_value(2, 30.0)
    assert undiscounted == pytest.approx(BG.expected_purchases(40.0, 2, 30.43, 38.86) * spend)
    discounted = customer_lifetime_value(BG, NOTE, horizon_steps=10, discount_rate=0.01,
                                         **kwargs)
    longer = customer_lifetime_value(BG, NOTE, horizon_steps=20, discount_rate=0.01,
                                     **kwargs)
    assert 0 < discounted < undiscounted and longer > discounted
    vector = customer_lifetime_value(BG, NOTE, frequency=[0, 2], recency=[0.0, 30.43],
                                     age=[38.86, 38.86], average_value=[0.0, 30.0],
                                     horizon_steps=10, periods_per_step=4.0,
                                     discount_rate=0.01)
    assert vector[1] == pytest.approx(discounted)


def test_clv_refuses_a_bad_horizon() -> None:
    with pytest.raises(ProfileError, match="periods_per_step"):
        customer_lifetime_value(BG, NOTE, frequency=1, recency=1.0, age=2.0,
                                average_value=1.0, horizon_steps=3, periods_per_step=0.0,
                                discount_rate=0.0)
