"""Thresholds of association-rule mining and their exact integer tests.

Every threshold is compared with integer counts through exact fractions, never through
floating-point products: ``0.3 * 10`` is ``3.0000000000000004`` in binary floating point,
and a float comparison would drop a rule whose confidence is exactly 3/10.

Examples
--------
>>> cfg = RulesConfig(min_support=0.01, min_confidence=0.3)
>>> cfg.min_count(15_183)
152
>>> cfg.confidence_ok(count=3, antecedent_count=10)
True
>>> RulesConfig(max_len=1)
Traceback (most recent call last):
...
shopstream.errors.ConfigError: RulesConfig.max_len must be an int >= 2, got 1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from shopstream.errors import ConfigError

__all__ = ["RulesConfig"]


def _exact(name: str, value: float, *, positive: bool, at_most_one: bool) -> Fraction:
    """``value`` as the exact decimal fraction it was written as, range-checked."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"RulesConfig.{name} must be a finite number, got {value!r}"
        raise ConfigError(msg)
    # str() gives the shortest decimal that round-trips, so 0.3 becomes exactly 3/10.
    exact = Fraction(str(value))
    if exact < 0 or (positive and exact == 0) or (at_most_one and exact > 1):
        low = "(0" if positive else "[0"
        bounds = f"in {low}, 1]" if at_most_one else f"{'>' if positive else '>='} 0"
        msg = f"RulesConfig.{name} must be {bounds}, got {value!r}"
        raise ConfigError(msg)
    return exact


@dataclass(frozen=True)
class RulesConfig:
    """Which rules to keep.

    Parameters
    ----------
    min_support
        Smallest share of baskets that must contain antecedent and consequent together,
        in ``(0, 1]``. The count threshold is ``ceil(min_support * N)`` (at least 1).
    min_confidence
        Smallest ``count(A u {c}) / count(A)``, in ``[0, 1]``.
    min_lift
        Smallest lift, ``>= 0``.
    max_len
        Largest number of items in a rule (antecedent plus consequent), ``>= 2``.

    Examples
    --------
    >>> RulesConfig()
    RulesConfig(min_support=0.01, min_confidence=0.3, min_lift=1.0, max_len=3)
    >>> RulesConfig(min_support=0.0)
    Traceback (most recent call last):
    ...
    shopstream.errors.ConfigError: RulesConfig.min_support must be in (0, 1], got 0.0
    """

    min_support: float = 0.01
    min_confidence: float = 0.3
    min_lift: float = 1.0
    max_len: int = 3
    _support: Fraction = field(init=False, repr=False, compare=False)
    _confidence: Fraction = field(init=False, repr=False, compare=False)
    _lift: Fraction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        support = _exact("min_support", self.min_support, positive=True, at_most_one=True)
        confidence = _exact("min_confidence", self.min_confidence, positive=False,
                            at_most_one=True)
        lift = _exact("min_lift", self.min_lift, positive=False, at_most_one=False)
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, int) \
                or self.max_len < 2:
            msg = f"RulesConfig.max_len must be an int >= 2, got {self.max_len!r}"
            raise ConfigError(msg)
        # Frozen dataclass: the exact forms are derived once, here.
        object.__setattr__(self, "_support", support)
        object.__setattr__(self, "_confidence", confidence)
        object.__setattr__(self, "_lift", lift)

    @property
    def confidence_fraction(self) -> tuple[int, int]:
        """``min_confidence`` as ``(numerator, denominator)``.

        Examples
        --------
        >>> RulesConfig(min_confidence=0.35).confidence_fraction
        (7, 20)
        """
        return self._confidence.numerator, self._confidence.denominator

    @property
    def lift_fraction(self) -> tuple[int, int]:
        """``min_lift`` as ``(numerator, denominator)``.

        Examples
        --------
        >>> RulesConfig(min_lift=1.25).lift_fraction
        (5, 4)
        """
        return self._lift.numerator, self._lift.denominator

    def min_count(self, basket_count: int) -> int:
        """The smallest itemset count kept among ``basket_count`` baskets (always >= 1).

        Examples
        --------
        >>> RulesConfig(min_support=0.01).min_count(10_000)
        100
        >>> RulesConfig(min_support=0.01).min_count(10_001)
        101
        >>> RulesConfig(min_support=0.5).min_count(0)
        1
        """
        # ceil(num * N / den) in integers: a Fraction product costs several times more,
        # and the miner asks once or twice per basket.
        support = self._support
        return max(1, -(-support.numerator * basket_count // support.denominator))

    def confidence_ok(self, count: int, antecedent_count: int) -> bool:
        """Whether ``count / antecedent_count >= min_confidence``, exactly.

        Examples
        --------
        >>> RulesConfig(min_confidence=0.3).confidence_ok(count=299, antecedent_count=1000)
        False
        """
        return count * self._confidence.denominator >= self._confidence.numerator * antecedent_count

    def lift_ok(self, count: int, antecedent_count: int, consequent_count: int,
                basket_count: int) -> bool:
        """Whether ``count * N / (antecedent_count * consequent_count) >= min_lift``, exactly.

        Examples
        --------
        >>> RulesConfig(min_lift=1.0).lift_ok(count=2, antecedent_count=4, consequent_count=5,
        ...                                   basket_count=10)
        True
        """
        return (count * basket_count * self._lift.denominator
                >= self._lift.numerator * antecedent_count * consequent_count)

    def keeps(self, count: int, antecedent_count: int, consequent_count: int,
              basket_count: int) -> bool:
        """Whether a rule with these counts passes all three thresholds.

        Examples
        --------
        >>> RulesConfig(min_support=0.2).keeps(2, 4, 5, basket_count=10)
        True
        >>> RulesConfig(min_support=0.21).keeps(2, 4, 5, basket_count=10)
        False
        """
        return (count >= self.min_count(basket_count)
                and self.confidence_ok(count, antecedent_count)
                and self.lift_ok(count, antecedent_count, consequent_count, basket_count))
