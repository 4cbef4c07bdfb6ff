"""Pure customer models: purchase frequency and churn (BG/NBD), spend (Gamma-Gamma),
lifetime value, and RFM segments. No I/O, no clock: arrays and numbers in and out.

- :mod:`~shopstream.profiles.bgnbd` - BG/NBD fit, expected purchases, P(alive);
- :mod:`~shopstream.profiles.gamma_gamma` - Gamma-Gamma fit, expected spend, CLV;
- :mod:`~shopstream.profiles.summary` - ``(x, t_x, T, m_x)`` per customer from a log;
- :mod:`~shopstream.profiles.segments` - RFM segments with explicit thresholds.
"""

from __future__ import annotations

from shopstream.profiles.bgnbd import BgNbdParams, fit_bgnbd
from shopstream.profiles.errors import ProfileError
from shopstream.profiles.gamma_gamma import (
    GammaGammaParams,
    customer_lifetime_value,
    fit_gamma_gamma,
)
from shopstream.profiles.segments import SEGMENTS, RfmConfig, rfm_segment
from shopstream.profiles.summary import CustomerSummary, summarise

__all__ = [
    "SEGMENTS",
    "BgNbdParams",
    "CustomerSummary",
    "GammaGammaParams",
    "ProfileError",
    "RfmConfig",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "rfm_segment",
    "summarise",
]
