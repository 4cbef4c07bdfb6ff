"""Gamma-Gamma: what a customer spends per transaction, and lifetime value.

Fader & Hardie (2013), "The Gamma-Gamma model of monetary value". A customer's
transaction values are Gamma(p, nu) around their own mean ``p / nu``, with
``nu ~ Gamma(q, gamma)`` across customers; spend is independent of how often they buy
(check it on your data). Each customer is summarised by ``x`` transactions (the papers
use the repeat ones) and their average value ``m_x``.

Pure: numpy arrays in, numbers out; no I/O, no clock.

Examples
--------
>>> gg = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
>>> round(gg.expected_average_value(frequency=2, average_value=30.0), 2)
30.94
>>> round(gg.expected_average_value(frequency=0, average_value=0.0), 2)
35.22
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln

from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.errors import ProfileError
from shopstream.profiles.log_fit import fit_positive

__all__ = ["GammaGammaParams", "customer_lifetime_value", "fit_gamma_gamma",
           "gamma_gamma_log_likelihood"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """``p`` (shape of one customer's spend), ``q, gamma`` (spread across customers)."""

    p: float
    q: float
    gamma: float

    def expected_average_value(self, frequency: ArrayLike,
                               average_value: ArrayLike) -> FloatArray | float:
        """E[M | x, m_x]: a weighted mean of the population mean ``p gamma / (q - 1)`` and
        the customer's own average, the more transactions the more their own (eq. 5)."""
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(average_value, dtype=np.float64)
        value = self.p * (self.gamma + x * m) / (self.p * x + self.q - 1.0)
        return float(value) if np.ndim(value) == 0 else value


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency: ArrayLike,
                               average_value: ArrayLike) -> FloatArray:
    """Per-customer log-density of the average value ``m_x`` of ``x > 0`` transactions.

    Examples
    --------
    >>> gg = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    >>> round(float(gamma_gamma_log_likelihood(gg, [1], [20.0])[0]), 4)
    -3.5942
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(average_value, dtype=np.float64)
    p, q, g = params.p, params.q, params.gamma
    px = p * x
    result: FloatArray = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
                          + (px - 1.0) * np.log(m) + px * np.log(x)
                          - (px + q) * np.log(g + m * x))
    return result


def fit_gamma_gamma(frequency: ArrayLike, average_value: ArrayLike,
                    start: GammaGammaParams | None = None) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters on customers with ``x > 0``.

    Raises
    ------
    ProfileError
        A customer has ``x <= 0`` or a non-positive average, or the fit did not converge.
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(average_value, dtype=np.float64)
    if x.shape != m.shape or x.size == 0:
        msg = f"Gamma-Gamma needs equally long non-empty inputs, got {x.shape}, {m.shape}"
        raise ProfileError(msg)
    bad = np.flatnonzero(~((x > 0) & (m > 0) & np.isfinite(x + m)))
    if bad.size:
        i = int(bad[0])
        msg = (f"Gamma-Gamma customer #{i}: needs frequency > 0 and a positive average "
               f"value, got frequency={x[i]}, average_value={m[i]}")
        raise ProfileError(msg)
    first = start or GammaGammaParams(p=1.0, q=1.0, gamma=1.0)
    p, q, g = fit_positive(lambda params: gamma_gamma_log_likelihood(
        GammaGammaParams(*params), x, m), (first.p, first.q, first.gamma),
        model="Gamma-Gamma", size=x.size)
    return GammaGammaParams(p=p, q=q, gamma=g)


def customer_lifetime_value(bgnbd: BgNbdParams, spend: GammaGammaParams, *,
                            frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
                            average_value: ArrayLike, horizon_steps: int,
                            periods_per_step: float, discount_rate: float,
                            margin: float = 1.0) -> FloatArray | float:
    """Discounted CLV over ``horizon_steps`` steps of ``periods_per_step`` periods each.

    Step ``i`` contributes the BG/NBD purchases expected between ``(i-1)`` and ``i`` steps
    from now, times the Gamma-Gamma expected value and ``margin``, discounted by
    ``(1 + discount_rate) ** i`` (the discrete sum of the lifetimes package).

    Examples
    --------
    >>> bg = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> gg = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    >>> clv = customer_lifetime_value(bg, gg, frequency=2, recency=30.43, age=38.86,
    ...                               average_value=30.0, horizon_steps=12,
    ...                               periods_per_step=52 / 12, discount_rate=0.01)
    >>> round(clv, 2)
    45.42
    """
    if horizon_steps < 0 or periods_per_step <= 0 or discount_rate <= -1.0:
        msg = (f"customer_lifetime_value: need horizon_steps >= 0, periods_per_step > 0 "
               f"and discount_rate > -1, got {horizon_steps}, {periods_per_step}, "
               f"{discount_rate}")
        raise ProfileError(msg)
    value_per_purchase = np.asarray(spend.expected_average_value(frequency, average_value))
    total = np.zeros_like(value_per_purchase, dtype=np.float64)
    before = np.zeros_like(total)
    for step in range(1, horizon_steps + 1):
        cumulative = np.asarray(bgnbd.expected_purchases(step * periods_per_step, frequency,
                                                         recency, age))
        total = total + (cumulative - before) * value_per_purchase * margin \
            / (1.0 + discount_rate) ** step
        before = cumulative
    return float(total) if np.ndim(total) == 0 else total
