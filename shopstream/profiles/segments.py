"""RFM segments: recency, frequency and monetary value cut at explicit thresholds.

The rules, first match wins (``recent``: last order at most ``recent_days`` ago;
``lapsed``: more than ``lapsed_days`` ago; ``frequent``: at least ``frequent_orders``
orders; ``valuable``: total spend at least ``high_value``):

==================  ==========================================
``champion``        recent, frequent and valuable
``loyal``           frequent and not lapsed
``at_risk``         lapsed, and frequent or valuable
``hibernating``     lapsed
``new``             recent with a single order
``promising``       recent
``needs_attention`` everything else (between recent and lapsed)
==================  ==========================================

Examples
--------
>>> config = RfmConfig()
>>> rfm_segment(days_since_last=3, orders=8, monetary=900.0, config=config)
'champion'
>>> rfm_segment(days_since_last=200, orders=8, monetary=900.0, config=config)
'at_risk'
>>> rfm_segment(days_since_last=2, orders=1, monetary=20.0, config=config)
'new'
>>> rfm_segment(days_since_last=60, orders=2, monetary=80.0, config=config)
'needs_attention'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shopstream.errors import ConfigError
from shopstream.profiles.errors import ProfileError

__all__ = ["SEGMENTS", "RfmConfig", "RfmSegment", "rfm_segment"]

RfmSegment = Literal["champion", "loyal", "at_risk", "hibernating", "new", "promising",
                     "needs_attention"]
SEGMENTS: tuple[RfmSegment, ...] = ("champion", "loyal", "at_risk", "hibernating", "new",
                                    "promising", "needs_attention")
"""Every segment, in the order the rules are tried."""


@dataclass(frozen=True)
class RfmConfig:
    """The thresholds of :func:`rfm_segment`; days are whole or fractional days."""

    recent_days: float = 30.0
    lapsed_days: float = 90.0
    frequent_orders: int = 5
    high_value: float = 500.0

    def __post_init__(self) -> None:
        if not 0 < self.recent_days < self.lapsed_days:
            msg = (f"RfmConfig needs 0 < recent_days < lapsed_days, got recent_days="
                   f"{self.recent_days!r}, lapsed_days={self.lapsed_days!r}")
            raise ConfigError(msg)
        if self.frequent_orders < 2 or self.high_value <= 0:
            msg = (f"RfmConfig needs frequent_orders >= 2 and high_value > 0, got "
                   f"frequent_orders={self.frequent_orders!r}, "
                   f"high_value={self.high_value!r}")
            raise ConfigError(msg)


def rfm_segment(days_since_last: float, orders: int, monetary: float,
                config: RfmConfig) -> RfmSegment:
    """The segment of a customer with ``orders >= 1`` orders totalling ``monetary``, the
    last one ``days_since_last`` days ago (see the table in the module docstring)."""
    if orders < 1 or days_since_last < 0 or monetary < 0:
        msg = (f"rfm_segment needs orders >= 1, days_since_last >= 0 and monetary >= 0, "
               f"got orders={orders!r}, days_since_last={days_since_last!r}, "
               f"monetary={monetary!r}")
        raise ProfileError(msg)
    recent = days_since_last <= config.recent_days
    lapsed = days_since_last > config.lapsed_days
    frequent = orders >= config.frequent_orders
    valuable = monetary >= config.high_value
    if recent and frequent and valuable:
        return "champion"
    if frequent and not lapsed:
        return "loyal"
    if lapsed:
        return "at_risk" if frequent or valuable else "hibernating"
    if recent:
        return "new" if orders == 1 else "promising"
    return "needs_attention"
