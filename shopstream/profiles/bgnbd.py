"""BG/NBD: how often a customer buys and whether they are still a customer.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2). While alive a customer buys as a Poisson
process with rate ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out with
probability ``p ~ Beta(a, b)``. Each customer is summarised by ``(x, t_x, T)``: repeat
purchases ``x``, the time of the last one ``t_x`` and the age ``T``, both counted from the
first purchase, in one unit of time (the papers use weeks).

Pure: numpy arrays in, numbers out; no I/O, no clock.

Examples
--------
>>> params = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
>>> round(params.p_alive(frequency=2, recency=30.43, age=38.86), 4)
0.7266

The customer of the paper's worked example (2 repeat purchases, the last at week 30.43,
aged 38.86 weeks) is expected to buy 1.226 times in the next 39 weeks:

>>> round(params.expected_purchases(39, frequency=2, recency=30.43, age=38.86), 3)
1.226
>>> round(params.expected_purchases_new(39), 3)
1.197
>>> round(params.p_alive(frequency=0, recency=0.0, age=38.86), 1)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, gammaln, hyp2f1

from shopstream.profiles.errors import ProfileError
from shopstream.profiles.log_fit import fit_positive

__all__ = ["BgNbdParams", "fit_bgnbd", "log_likelihood"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """The four BG/NBD parameters: ``r, alpha`` (purchase rate), ``a, b`` (dropout)."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike,
                age: ArrayLike) -> FloatArray | float:
        """P(the customer is still alive at ``age``) given ``(x, t_x, T)`` (eq. 13).

        A customer with no repeat purchase is alive for sure in the BG/NBD (dropout
        happens only right after a purchase).
        """
        x, tx, t_age = _arrays(frequency, recency, age)
        return _scalar(1.0 / (1.0 + self._dropout_odds(x, tx, t_age)))

    def expected_purchases(self, periods: float, frequency: ArrayLike, recency: ArrayLike,
                           age: ArrayLike) -> FloatArray | float:
        """E[purchases in the next ``periods``] given ``(x, t_x, T)`` (eq. 10)."""
        x, tx, t_age = _arrays(frequency, recency, age)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = periods / (alpha + t_age + periods)
        head = (a + b + x - 1.0) / (a - 1.0)
        tail = 1.0 - ((alpha + t_age) / (alpha + t_age + periods)) ** (r + x) \
            * hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        return _scalar(head * tail / (1.0 + self._dropout_odds(x, tx, t_age)))

    def expected_purchases_new(self, periods: ArrayLike) -> FloatArray | float:
        """E[X(t)]: purchases of a new customer in their first ``t`` periods (eq. 9)."""
        t = np.asarray(periods, dtype=np.float64)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        value = (a + b - 1.0) / (a - 1.0) * (
            1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z))
        return _scalar(value)

    def _dropout_odds(self, x: FloatArray, tx: FloatArray, t_age: FloatArray) -> FloatArray:
        """``a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)`` where ``x > 0``."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        safe = np.where(x > 0, x, 1.0)
        odds = a / (b + safe - 1.0) * np.exp(
            (r + safe) * (np.log(alpha + t_age) - np.log(alpha + tx)))
        return np.where(x > 0, odds, 0.0)


def log_likelihood(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike,
                   age: ArrayLike) -> FloatArray:
    """Per-customer log-likelihood of ``(x, t_x, T)`` (FHL 2005, eq. 6).

    Examples
    --------
    >>> p = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> [round(float(v), 4) for v in log_likelihood(p, [0, 2], [0.0, 30.43], [38.86, 38.86])]
    [-0.5547, -9.4586]
    """
    x, tx, t_age = _arrays(frequency, recency, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + t_age)
    safe = np.where(x > 0, x, 1.0)
    a4 = np.log(a) - np.log(b + safe - 1.0) - (r + safe) * np.log(alpha + tx)
    # Only the (1 - p)-then-alive term exists when there is no repeat purchase.
    last = np.where(x > 0, np.logaddexp(a3, a4), a3)
    result: FloatArray = a1 + a2 + last
    return result


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
              start: BgNbdParams | None = None) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters (optimised on their logarithms).

    Raises
    ------
    ProfileError
        Inputs are inconsistent (``t_x > T``, negative values, ``x = 0`` with ``t_x > 0``)
        or the optimiser did not converge.
    """
    x, tx, t_age = _arrays(frequency, recency, age)
    _check(x, tx, t_age)
    first = start or BgNbdParams(r=1.0, alpha=max(float(np.mean(t_age)), 1e-3), a=1.0, b=1.0)
    r, alpha, a, b = fit_positive(
        lambda p: log_likelihood(BgNbdParams(*p), x, tx, t_age),
        (first.r, first.alpha, first.a, first.b), model="BG/NBD", size=x.size)
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def _arrays(frequency: ArrayLike, recency: ArrayLike,
            age: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, tx, t_age = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    return x, tx, t_age


def _check(x: FloatArray, tx: FloatArray, t_age: FloatArray) -> None:
    if not (x.shape == tx.shape == t_age.shape) or x.size == 0:
        msg = (f"BG/NBD needs equally long non-empty frequency, recency and age, got "
               f"{x.shape}, {tx.shape}, {t_age.shape}")
        raise ProfileError(msg)
    bad = np.flatnonzero((x < 0) | (tx < 0) | (tx > t_age) | ((x == 0) & (tx > 0))
                         | ~np.isfinite(x + tx + t_age))
    if bad.size:
        i = int(bad[0])
        msg = (f"BG/NBD customer #{i}: need 0 <= recency <= age and recency 0 when "
               f"frequency is 0, got frequency={x[i]}, recency={tx[i]}, age={t_age[i]}")
        raise ProfileError(msg)


def _scalar(value: FloatArray) -> FloatArray | float:
    return float(value) if np.ndim(value) == 0 else value
