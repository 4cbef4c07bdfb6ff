"""Maximum likelihood over positive parameters, searched on their logarithms.

The BG/NBD and Gamma-Gamma fits share this: every parameter is above 0, so the optimiser
moves ``theta = log(params)`` freely; Nelder-Mead finds the basin and L-BFGS-B polishes
it. A likelihood that is not finite at a trial point counts as a very poor fit there
(``1e300``) rather than stopping the search.

Pure: numpy arrays in, numbers out; no I/O, no clock.

Examples
--------
The mean ``mu`` of an exponential sample, fitted on ``log(mu)``:

>>> import numpy as np
>>> data = np.array([1.0, 2.0, 3.0])
>>> (mu,) = fit_positive(lambda p: -np.log(p[0]) - data / p[0], (1.0,),
...                      model="Exponential", size=data.size)
>>> round(mu, 4)
2.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from shopstream.profiles.errors import ProfileError

__all__ = ["fit_positive"]

FloatArray = NDArray[np.float64]


def fit_positive(log_likelihood: Callable[[FloatArray], FloatArray], start: Sequence[float],
                 *, model: str, size: int) -> tuple[float, ...]:
    """The parameters that maximise ``sum(log_likelihood(params))``, from ``start``.

    Parameters
    ----------
    log_likelihood
        Per-observation log-likelihood at ``params`` (the array of the parameters, all
        above 0, in the order of ``start``).
    start
        Where the search begins; every value above 0.
    model, size
        The model's name and the number of customers, for the error message.

    Raises
    ------
    ProfileError
        The optimiser did not converge to finite parameters and likelihood.

    Examples
    --------
    The rate of an exponential distribution, whose maximum-likelihood estimate is one over
    the mean of the observations:

    >>> waits = np.array([0.5, 1.0, 1.5, 2.0])
    >>> (rate,) = fit_positive(lambda p: np.log(p[0]) - p[0] * waits, [3.0],
    ...                        model="exponential", size=len(waits))
    >>> round(rate, 4), round(1 / float(waits.mean()), 4)
    (0.8, 0.8)
    """

    def objective(theta: FloatArray) -> float:
        value = -float(np.sum(log_likelihood(np.exp(theta))))
        return value if np.isfinite(value) else 1e300

    result = minimize(objective, np.log(list(start)), method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 5_000,
                               "maxfev": 10_000})
    result = minimize(objective, result.x, method="L-BFGS-B")
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        msg = f"{model} fit did not converge on {size} customers: {result.message}"
        raise ProfileError(msg)
    return tuple(float(v) for v in np.exp(result.x))
