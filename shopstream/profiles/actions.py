"""Churn risk, lifetime value and the next best actions for a shopper.

**Churn risk** is ``1 - P(alive)``. With fitted BG/NBD parameters configured, P(alive)
is the model's (:mod:`~shopstream.profiles.bgnbd`), from ``x`` = days with a repeat
purchase, ``t_x`` = weeks from the first purchase to the last, ``T`` = weeks from the
first purchase to now; with Gamma-Gamma parameters too, the CLV is the discounted value
of the next ``clv_months`` months (average order value as ``m_x``). Without parameters
the documented default is ``P(alive) = 0.5 ** (days since the last order /
default_half_life_days)`` and no CLV. Without any order both are unknown (``None``).

**Next best actions**, ranked, at most ``max_actions``, each with its reason:

1. ``complete the cart with offer`` when the cart holds something;
2. ``win-back offer`` when the shopper has ordered and ``P(alive) < win_back_below``;
3. ``cross-sell from the last order`` when the shopper has ordered, is not slipping
   away (``P(alive) >= win_back_below``) and the last order has categories;
4. ``show what is rising in a favourite category`` when one of the shopper's strongest
   categories (the profile's ``category`` preferences, strongest first) is ``rising``
   with strength ``>= rising_min_strength`` in the newest category trend reading in
   force (:class:`RisingCategory`, which the profile operator finds on its trend
   board, :mod:`~shopstream.profiles.trend_board`); the first such category counts;
5. ``nothing: do not disturb`` when none of the above applies.

Examples
--------
>>> config = ChurnConfig()
>>> life = lifetime(purchase_days=2, first_order_ms=0, last_order_ms=0,
...                 now_ms=45 * 86_400_000, average_value=40.0, config=config)
>>> life.model, life.p_alive, life.churn_risk, life.clv
('default', 0.5, 0.5, None)
>>> acts = next_best_actions("buyer", cart_items=2, cart_value=35.0, p_alive=0.5, orders=2,
...                          last_order_categories=("Toys",), config=ActionsConfig())
>>> [(a.action, a.reason) for a in acts]  # doctest: +NORMALIZE_WHITESPACE
[('complete the cart with offer', '2 items worth 35.00 wait in the cart (buyer)'),
 ('cross-sell from the last order', 'last order in Toys, P(alive) 0.50 >= 0.50')]
>>> [a.action for a in next_best_actions("browser", 0, 0.0, None, 0, (), ActionsConfig())]
['nothing: do not disturb']
>>> toys = RisingCategory("Toys", share=0.6, strength=0.72, confidence=0.8)
>>> [(a.action, a.reason) for a in next_best_actions(  # doctest: +NORMALIZE_WHITESPACE
...     "browser", 0, 0.0, None, 0, (), ActionsConfig(), rising=toys)]
[('show what is rising in a favourite category',
  'Toys is rising (strength 0.72, confidence 0.80), 60% of your category interest')]
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from shopstream.errors import ConfigError
from shopstream.profiles.bgnbd import BgNbdParams
from shopstream.profiles.gamma_gamma import GammaGammaParams, customer_lifetime_value

__all__ = ["ActionsConfig", "ChurnConfig", "Lifetime", "NextAction", "RisingCategory",
           "lifetime", "next_best_actions"]

_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
COMPLETE_CART = "complete the cart with offer"
WIN_BACK = "win-back offer"
CROSS_SELL = "cross-sell from the last order"
RISING = "show what is rising in a favourite category"
DO_NOT_DISTURB = "nothing: do not disturb"


@dataclass(frozen=True)
class ChurnConfig:
    """Fitted models (``None``: not fitted) and the default when there are none."""

    bgnbd: BgNbdParams | None = None
    gamma_gamma: GammaGammaParams | None = None
    default_half_life_days: float = 45.0
    clv_months: int = 12
    monthly_discount_rate: float = 0.01

    def __post_init__(self) -> None:
        if not self.default_half_life_days > 0 or self.clv_months < 1:
            msg = (f"ChurnConfig needs default_half_life_days > 0 and clv_months >= 1, got "
                   f"default_half_life_days={self.default_half_life_days!r}, "
                   f"clv_months={self.clv_months!r}")
            raise ConfigError(msg)
        if not self.monthly_discount_rate > -1:
            msg = (f"ChurnConfig.monthly_discount_rate must be > -1, got "
                   f"{self.monthly_discount_rate!r}")
            raise ConfigError(msg)


@dataclass(frozen=True)
class ActionsConfig:
    """When a shopper counts as slipping away, how strong a rising trend must be to
    suggest it, and how many actions to list."""

    win_back_below: float = 0.5
    max_actions: int = 3
    rising_min_strength: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.rising_min_strength <= 1:
            msg = (f"ActionsConfig.rising_min_strength must be in [0, 1], got "
                   f"{self.rising_min_strength!r}")
            raise ConfigError(msg)
        if not 0 < self.win_back_below <= 1 or self.max_actions < 1:
            msg = (f"ActionsConfig needs 0 < win_back_below <= 1 and max_actions >= 1, got "
                   f"win_back_below={self.win_back_below!r}, "
                   f"max_actions={self.max_actions!r}")
            raise ConfigError(msg)


class Lifetime(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """P(alive), churn risk (``1 - P(alive)``) and CLV (``None`` without Gamma-Gamma);
    ``model`` says where they came from: ``bgnbd`` or ``default``."""

    model: str
    p_alive: float
    churn_risk: float
    clv: float | None = None


class NextAction(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One suggested action and why."""

    action: str
    reason: str


@dataclass(frozen=True)
class RisingCategory:
    """A category the shopper prefers (``share`` of the decayed category interest) whose
    newest trend reading is ``rising`` with ``strength`` and ``confidence``."""

    category: str
    share: float
    strength: float
    confidence: float


def lifetime(purchase_days: int, first_order_ms: int, last_order_ms: int, now_ms: int,
             average_value: float, config: ChurnConfig) -> Lifetime | None:
    """Churn risk and CLV of a shopper with ``purchase_days`` days with a purchase (see
    module docs); ``None`` without any purchase."""
    if purchase_days < 1:
        return None
    now_ms = max(now_ms, last_order_ms)
    bg = config.bgnbd
    if bg is None:
        p = 0.5 ** ((now_ms - last_order_ms) / _DAY_MS / config.default_half_life_days)
        p = round(p, 4)
        return Lifetime("default", p, round(1.0 - p, 4))
    x = purchase_days - 1
    t_x = (last_order_ms - first_order_ms) / _WEEK_MS if x else 0.0
    age = (now_ms - first_order_ms) / _WEEK_MS
    p = round(float(bg.p_alive(x, t_x, age)), 4)
    clv = None
    if config.gamma_gamma is not None:
        clv = round(float(customer_lifetime_value(
            bg, config.gamma_gamma, frequency=x, recency=t_x, age=age,
            average_value=average_value, horizon_steps=config.clv_months,
            periods_per_step=52 / 12, discount_rate=config.monthly_discount_rate)), 2)
    return Lifetime("bgnbd", p, round(1.0 - p, 4), clv)


def next_best_actions(segment: str, cart_items: int, cart_value: float,
                      p_alive: float | None, orders: int,
                      last_order_categories: tuple[str, ...],
                      config: ActionsConfig,
                      rising: RisingCategory | None = None) -> tuple[NextAction, ...]:
    """The ranked actions for a shopper (rules in the module docs); ``rising``: the
    shopper's strongest preferred category that is rising strongly enough, if any."""
    actions: list[NextAction] = []
    if cart_items > 0:
        actions.append(NextAction(
            COMPLETE_CART, f"{cart_items} items worth {cart_value:.2f} wait in the cart "
                           f"({segment})"))
    threshold = config.win_back_below
    if orders >= 1 and p_alive is not None:
        if p_alive < threshold:
            actions.append(NextAction(
                WIN_BACK, f"P(alive) {p_alive:.2f} < {threshold:.2f} after {orders} orders"))
        elif last_order_categories:
            actions.append(NextAction(
                CROSS_SELL, f"last order in {', '.join(last_order_categories)}, "
                            f"P(alive) {p_alive:.2f} >= {threshold:.2f}"))
    if rising is not None and rising.strength >= config.rising_min_strength:
        actions.append(NextAction(
            RISING, f"{rising.category} is rising (strength {rising.strength:.2f}, "
                    f"confidence {rising.confidence:.2f}), {rising.share:.0%} of your "
                    "category interest"))
    if not actions:
        why = "no cart and no order yet" if orders == 0 else "no cart, nothing to follow up"
        actions.append(NextAction(DO_NOT_DISTURB, why))
    return tuple(actions[:config.max_actions])
