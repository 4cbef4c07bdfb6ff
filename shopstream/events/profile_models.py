"""The ``profile-models`` broadcast: refitted lifetime-value models and RFM thresholds.

A :class:`ProfileModel` is one version of what the Customer 360 operator reads beside its
static configuration: BG/NBD parameters (purchase frequency and dropout), Gamma-Gamma
parameters (spend), each ``None`` when this version has none, and the RFM segments'
thresholds. It holds from event time ``valid_from_ms``: a profile computed at event
time ``t`` uses the newest version (highest ``(valid_from_ms, version)``) with
``valid_from_ms <= t``, whatever order the versions arrived in.

The retrain job builds one from a trained model (:mod:`shopstream.jobs.publish`); the
records hold only numbers (no shopper), and every number is checked at construction, so a
bad version is refused where it is made, never inside the pipeline.

Examples
--------
>>> import msgspec
>>> model = ProfileModel(3, 1_000, RfmThresholds(14.0, 60.0, 4, 250.0),
...                      BgNbdModel(0.243, 4.414, 0.793, 2.426))
>>> msgspec.json.encode(model).decode()  # doctest: +NORMALIZE_WHITESPACE
'{"version":3,"validFromMs":1000,"rfm":{"recentDays":14.0,"lapsedDays":60.0,\
"frequentOrders":4,"highValue":250.0},"bgnbd":{"r":0.243,"alpha":4.414,"a":0.793,\
"b":2.426},"gammaGamma":null}'
>>> msgspec.json.decode(msgspec.json.encode(model), type=ProfileModel) == model
True
>>> RfmThresholds(90.0, 30.0, 4, 250.0)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RfmThresholds needs 0 < recent_days < lapsed_days, got \
recent_days=90.0, lapsed_days=30.0
"""

from __future__ import annotations

import math

import msgspec

from shopstream.errors import ConfigError

__all__ = ["BgNbdModel", "GammaGammaModel", "ProfileModel", "RfmThresholds"]


def _positive(owner: msgspec.Struct, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            msg = f"{type(owner).__name__}.{name} must be finite and > 0, got {value!r}"
            raise ConfigError(msg)


class BgNbdModel(msgspec.Struct, frozen=True, gc=False):
    """BG/NBD parameters: ``r, alpha`` (purchase rate), ``a, b`` (dropout)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        _positive(self, "r", "alpha", "a", "b")


class GammaGammaModel(msgspec.Struct, frozen=True, gc=False):
    """Gamma-Gamma parameters: ``p`` (one customer's spend), ``q, gamma`` (across them)."""

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        _positive(self, "p", "q", "gamma")


class RfmThresholds(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """The cuts of the RFM segments (see :mod:`shopstream.profiles.segments`)."""

    recent_days: float
    lapsed_days: float
    frequent_orders: int
    high_value: float

    def __post_init__(self) -> None:
        _positive(self, "recent_days", "lapsed_days", "high_value")
        if not self.recent_days < self.lapsed_days:
            msg = (f"RfmThresholds needs 0 < recent_days < lapsed_days, got recent_days="
                   f"{self.recent_days!r}, lapsed_days={self.lapsed_days!r}")
            raise ConfigError(msg)
        if not isinstance(self.frequent_orders, int) or self.frequent_orders < 2:
            msg = f"RfmThresholds.frequent_orders must be >= 2, got {self.frequent_orders!r}"
            raise ConfigError(msg)


class ProfileModel(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One version of the profile models, in force from event time ``valid_from_ms``
    (see the module docs); ``bgnbd`` / ``gamma_gamma`` ``None``: the operator's
    configured parameters (or the documented default) stay in force for that part."""

    version: int
    valid_from_ms: int
    rfm: RfmThresholds
    bgnbd: BgNbdModel | None = None
    gamma_gamma: GammaGammaModel | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.version, int) or self.version < 1:
            msg = f"ProfileModel.version must be >= 1, got {self.version!r}"
            raise ConfigError(msg)
