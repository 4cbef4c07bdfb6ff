"""One shopping session as a coherent sequence of actions.

A session opens with a ``PAGE_VIEW`` and then takes a number of steps chosen from the
moves a real shopper could make at that point: view a product (sometimes after a
``SEARCH``), add the product just viewed to the cart or the wishlist, remove something
that is in the cart, browse a category. Adding a product pulls its bundle partners and
complements into a "frequently bought together" queue, which the shopper then views and
usually adds as well. At the end a non-empty cart is bought or left behind (abandoned).
Move weights are steered by a :class:`~shopstream.sim.mix.MixController` so the overall
action mix stays on target. Events come out without ids: the engine numbers them in
output order.

Examples
--------
>>> import random
>>> from shopstream.sim.catalog import build_catalog
>>> from shopstream.sim.mix import MixController
>>> from shopstream.sim.shoppers import ShopperPool
>>> cat = build_catalog(1, 200)
>>> gen = SessionGenerator(cat, MixController(), random.Random(1), seed=1)
>>> shopper = ShopperPool(1, cat.categories, 10).get(0)
>>> ctx = SessionContext("s1", shopper.user_id, "desktop", "web", "US", "Ohio", None)
>>> events = gen.generate(shopper, ctx, 1_000_000)
>>> events[0].event_type, events[0].event_id
(<EventType.PAGE_VIEW: 'PAGE_VIEW'>, '')
>>> all(a.timestamp_ms < b.timestamp_ms for a, b in zip(events, events[1:]))
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import NormalDist
from typing import TypeVar
from urllib.parse import quote_plus

from shopstream.events.model import EventType, Item, ShopperEvent
from shopstream.sim.catalog import SHOP_URL, Catalog, Product
from shopstream.sim.mix import ADD, BROWSE, PURCHASE, REMOVE, VIEW, WISH, MixController
from shopstream.sim.shoppers import Shopper
from shopstream.sim.words import CATEGORIES

__all__ = ["SessionContext", "SessionGenerator"]

_ET = EventType
_T = TypeVar("_T")
_SLUGS = {spec.name: spec.slug for spec in CATEGORIES}
_CHECKOUT_URL = f"{SHOP_URL}/checkout/complete"

# Base weights before mix steering: of the steps, product visits, removals (only with
# a non-empty cart) and category browsing; of a visit's outcomes, add, wishlist, neither.
_W_VISIT, _W_REMOVE, _W_BROWSE = 40.0, 40.0, 5.0
_W_ADD, _W_WISH, _W_LEAVE = 15.0, 14.0, 3.0
_BOUNCE = 0.1  # sessions that take one step and leave
_MEAN_STEPS = 2.2  # mean steps of the other sessions
_STEP_GAIN = 1.0  # how strongly lagging purchases shorten sessions
_FIRST_ADD_GAIN = 0.5  # how strongly lagging purchases favour a first add
_CHECKOUT = 0.8  # chance that a session ending with a non-empty cart buys it
_EARLY_CHECKOUT = 0.1  # chance per step that a shopper with a cart heads to checkout
_MAX_CHECKOUT = 0.9  # however purchases lag, some carts are always abandoned
_SEARCH = 0.12  # chance that a view is reached through the search box
_BUNDLE_PULL, _COMPLEMENT_PULL = 0.8, 0.4  # chance a partner joins the queue on add
_QUEUE_VIEW, _QUEUE_ADD = 0.9, 0.85  # chance the queue is viewed next; added after view
_REVIEW = 0.5  # chance the cart is edited on the way to checkout
_MULTI = 0.6  # chance an add puts more than one unit in the cart
_DECREMENT = 0.9  # chance a removal lowers a multi-unit line rather than drops one

# Seconds spent after each kind of action before the next one: (median, log-sigma).
_DWELL: dict[EventType, tuple[float, float]] = {
    _ET.PAGE_VIEW: (7.0, 0.6),
    _ET.VIEW_PRODUCT: (30.0, 0.8),
    _ET.ADD_TO_CART: (10.0, 0.6),
    _ET.ADD_TO_WISHLIST: (8.0, 0.6),
    _ET.REMOVE_FROM_CART: (9.0, 0.6),
    _ET.BROWSE_CATEGORY: (14.0, 0.7),
    _ET.SEARCH: (6.0, 0.5),
    _ET.PURCHASE: (5.0, 0.5),
}
_CHECKOUT_DWELL = (100.0, 0.5)  # cart review, address, payment
_MIN_GAP_MS, _MAX_GAP_MS = 1_000, 300_000
# Gaps are drawn from per-type inverse-CDF tables of the log-normal: one lookup instead
# of a Gaussian draw and an exp per event. Gaps are clamped to seconds..minutes, so the
# tails the table cannot reach do not matter.
_QUANTILES = 4096
_Z = tuple(NormalDist().inv_cdf((i + 0.5) / _QUANTILES) for i in range(_QUANTILES))


def _gap_table(median_s: float, sigma: float) -> tuple[int, ...]:
    mu = math.log(median_s)
    return tuple(min(_MAX_GAP_MS, max(_MIN_GAP_MS, int(math.exp(mu + sigma * z) * 1000)))
                 for z in _Z)


_GAPS = {kind: _gap_table(*params) for kind, params in _DWELL.items()}
_CHECKOUT_GAPS = _gap_table(*_CHECKOUT_DWELL)


def _pick(rng: random.Random, seq: Sequence[_T]) -> _T:
    # random.choice goes through _randbelow; this is three times faster and as uniform
    # for the short sequences picked from here.
    return seq[int(rng.random() * len(seq))]


class SessionContext:
    """What every event of one session shares."""

    __slots__ = ("campaign", "country", "device", "platform", "region", "session_id",
                 "user_id")

    def __init__(self, session_id: str, user_id: str, device: str, platform: str,
                 country: str, region: str, campaign: str | None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.device = device
        self.platform = platform
        self.country = country
        self.region = region
        self.campaign = campaign


class SessionGenerator:
    """Generates sessions one after another from one random stream.

    Parameters
    ----------
    catalog
        The products shoppers act on.
    mix
        The controller that keeps the action mix on target; shared by all sessions.
    rng
        The random stream of session behaviour.
    seed
        Used in order ids (``o-<seed>-<n>``).
    currency
        Put on purchases.

    Examples
    --------
    >>> import random
    >>> from shopstream.sim.catalog import build_catalog
    >>> from shopstream.sim.mix import MixController
    >>> from shopstream.sim.shoppers import ShopperPool
    >>> cat = build_catalog(4, 300)
    >>> gen = SessionGenerator(cat, MixController(), random.Random(4), seed=4)
    >>> pool = ShopperPool(4, cat.categories, 5)
    >>> sessions = [gen.generate(pool.get(i), SessionContext(f"s{i}", f"u{i}", "desktop",
    ...             "web", "US", "Ohio", None), 0) for i in range(200)]
    >>> orders = [e for s in sessions for e in s if e.event_type == "PURCHASE"]
    >>> gen.orders == len(orders) > 0
    True
    """

    def __init__(self, catalog: Catalog, mix: MixController, rng: random.Random,
                 seed: int, currency: str = "USD") -> None:
        self.currency = currency
        self.catalog = catalog
        self.mix = mix
        self.rng = rng
        self.seed = seed
        self.orders = 0

    def generate(self, shopper: Shopper, ctx: SessionContext,
                 start_ms: int) -> list[ShopperEvent]:
        """The events of one session of ``shopper`` starting at ``start_ms``, without ids."""
        return _Session(self, shopper, ctx, start_ms).run()

    def next_order_id(self) -> str:
        """A fresh order id."""
        self.orders += 1
        return f"o-{self.seed}-{self.orders}"

    def gap_ms(self, previous: EventType, following: EventType) -> int:
        """Milliseconds between two consecutive actions of a session."""
        table = _CHECKOUT_GAPS if following is _ET.PURCHASE else _GAPS[previous]
        return table[int(self.rng.random() * _QUANTILES)]


class _Session:
    """The mutable state of one session while it is generated."""

    def __init__(self, gen: SessionGenerator, shopper: Shopper, ctx: SessionContext,
                 start_ms: int) -> None:
        self.gen = gen
        self.ctx = ctx
        self.rng = gen.rng
        self.catalog = gen.catalog
        self.shopper = shopper
        self.t = start_ms
        self.events: list[ShopperEvent] = []
        self.cart: dict[int, tuple[Product, int]] = {}
        self.wished: set[int] = set()
        self.queue: list[Product] = []
        self.last_kind = _ET.PAGE_VIEW
        self.last_view: Product | None = None
        self.category = _pick(self.rng, shopper.categories)

    def run(self) -> list[ShopperEvent]:
        f = self.gen.mix.factors()
        self._landing(self.ctx.campaign)
        rng = self.rng
        # Fewer, shorter sessions when purchases lag their share, since each buying
        # session contributes exactly one purchase.
        if rng.random() < _BOUNCE:
            steps = 1
        else:
            steps = 1 + int(rng.expovariate(f[PURCHASE] ** _STEP_GAIN / _MEAN_STEPS))
        for _ in range(steps):
            self._step(f)
            # Follow-ups from the "frequently bought together" widget are part of the
            # step that triggered them, so short sessions still complete their bundles.
            while self.queue and rng.random() < _QUEUE_VIEW:
                self._follow_up(f)
            if self.cart and rng.random() < _EARLY_CHECKOUT * f[PURCHASE]:
                break
        if self.cart and rng.random() < min(_MAX_CHECKOUT, _CHECKOUT * f[PURCHASE]):
            # The cart page before paying is where quantities get trimmed.
            if rng.random() < min(0.9, _REVIEW * f[REMOVE]):
                self._remove()
            if self.cart:
                self._purchase()
        self.gen.mix.record_all(e.event_type for e in self.events)
        return self.events

    def _next_ms(self, kind: EventType) -> int:
        if self.events:
            table = _CHECKOUT_GAPS if kind is _ET.PURCHASE else _GAPS[self.last_kind]
            self.t += table[int(self.rng.random() * _QUANTILES)]
        self.last_kind = kind
        return self.t

    def _emit(self, kind: EventType, product: Product | None = None, *,
              category: str | None = None, quantity: int | None = None,
              query: str | None = None, url: str | None = None) -> None:
        c = self.ctx
        ts = self._next_ms(kind)
        # Positional construction (ShopperEvent's field order) is several times faster
        # than keywords in msgspec, and this runs once per event.
        if product is None:
            event = ShopperEvent(
                kind, ts, c.session_id, "", c.user_id, None, None, category, None, quantity,
                None, None, None, None, query, url,
                c.device, c.platform, c.country, c.region, c.campaign)
        else:
            event = ShopperEvent(
                kind, ts, c.session_id, "", c.user_id, product.product_id, product.name,
                product.category, product.price, quantity, None, None, None, None, query, url,
                c.device, c.platform, c.country, c.region, c.campaign, product.brand)
        self.events.append(event)

    def _landing(self, campaign: str | None) -> None:
        if campaign is not None:
            url = f"{SHOP_URL}/?utm_campaign={campaign}"
        elif self.rng.random() < 0.6:
            url = f"{SHOP_URL}/"
        else:
            url = f"{SHOP_URL}/c/{_SLUGS[self.category]}"
        self._emit(_ET.PAGE_VIEW, url=url)

    def _follow_up(self, f: tuple[float, ...]) -> None:
        """View the next product of the "frequently bought together" queue, usually add it."""
        product = self.queue.pop(0)
        self._view(product)
        if product.index not in self.cart and self.rng.random() < _QUEUE_ADD * f[ADD]:
            self._add(product)

    def _step(self, f: tuple[float, ...]) -> None:
        rng = self.rng
        w_visit = _W_VISIT * f[VIEW]
        w_remove = _W_REMOVE * f[REMOVE] if self.cart else 0.0
        w_browse = _W_BROWSE * f[BROWSE]
        r = rng.random() * (w_visit + w_remove + w_browse)
        if r < w_visit:
            self._visit(f)
        elif r - w_visit < w_remove:
            self._remove()
        else:
            self._browse()

    def _visit(self, f: tuple[float, ...]) -> None:
        """View a product, then put it in the cart, on the wishlist, or neither."""
        product = self._view(None)
        w_add = _W_ADD * f[ADD] if product.index not in self.cart else 0.0
        if not self.cart:
            # A first add opens the way to a purchase: favour it when purchases lag.
            w_add *= f[PURCHASE] ** _FIRST_ADD_GAIN
        w_wish = _W_WISH * f[WISH] if product.index not in self.wished else 0.0
        r = self.rng.random() * (w_add + w_wish + _W_LEAVE)
        if r < w_add:
            self._add(product)
        elif r - w_add < w_wish:
            self.wished.add(product.index)
            self._emit(_ET.ADD_TO_WISHLIST, product, url=product.page_url)

    def _view(self, product: Product | None) -> Product:
        rng = self.rng
        if product is None:
            if rng.random() < _SEARCH:
                product = self._search()
            else:
                if rng.random() < 0.12:
                    self.category = _pick(rng, self.shopper.categories)
                product = self.catalog.sample_product(rng, self.category)
                if product is self.last_view:
                    product = self.catalog.sample_product(rng, self.category)
        self.last_view = product
        self._emit(_ET.VIEW_PRODUCT, product, url=product.page_url)
        return product

    def _search(self) -> Product:
        rng = self.rng
        wanted = self.catalog.sample_product(rng, self.category)
        if rng.random() < 0.3:
            query = f"{wanted.brand} {wanted.noun}".lower()
        else:
            query = wanted.noun.lower()
        self._emit(_ET.SEARCH, query=query, url=f"{SHOP_URL}/search?q={quote_plus(query)}")
        if rng.random() < 0.6:
            return wanted
        return _pick(rng, self.catalog.with_noun(wanted.category, wanted.noun))

    def _add(self, product: Product) -> None:
        rng = self.rng
        qty = 1 if product.max_quantity == 1 or rng.random() >= _MULTI else (
            rng.randint(2, product.max_quantity))
        self.cart[product.index] = (product, qty)
        self._emit(_ET.ADD_TO_CART, product, quantity=qty, url=product.page_url)
        for partner in self.catalog.bundle_partners(product):
            self._enqueue(partner, _BUNDLE_PULL)
        for partner in self.catalog.complements_of(product):
            self._enqueue(partner, _COMPLEMENT_PULL)

    def _enqueue(self, product: Product, chance: float) -> None:
        if (product.index not in self.cart and product not in self.queue
                and self.rng.random() < chance):
            self.queue.append(product)

    def _remove(self) -> None:
        rng = self.rng
        # Lowering a quantity is more common than dropping a line, and keeps baskets full.
        multi = [i for i, (_, q) in self.cart.items() if q > 1]
        if multi and rng.random() < _DECREMENT:
            index = _pick(rng, multi)
            product, qty = self.cart[index]
            self.cart[index] = (product, qty - 1)
            removed = 1
        else:
            index = _pick(rng, list(self.cart))
            product, removed = self.cart.pop(index)
        self._emit(_ET.REMOVE_FROM_CART, product, quantity=removed, url=product.page_url)

    def _browse(self) -> None:
        rng = self.rng
        if rng.random() < 0.6:
            self.category = _pick(rng, self.shopper.categories)
        else:
            self.category = self.catalog.sample_category(rng)
        self._emit(_ET.BROWSE_CATEGORY, category=self.category,
                   url=f"{SHOP_URL}/c/{_SLUGS[self.category]}")

    def _purchase(self) -> None:
        lines = list(self.cart.values())
        items = tuple(Item(p.product_id, p.name, p.category, p.price, q, p.brand)
                      for p, q in lines)
        total = round(sum(p.price * q for p, q in lines), 2)
        self.cart.clear()
        c = self.ctx
        self.events.append(ShopperEvent(
            event_type=_ET.PURCHASE,
            timestamp_ms=self._next_ms(_ET.PURCHASE),
            session_id=c.session_id,
            user_id=c.user_id,
            quantity=sum(q for _, q in lines),
            currency=self.gen.currency,
            order_id=self.gen.next_order_id(),
            cart_total=total,
            items=items,
            page_url=_CHECKOUT_URL,
            device=c.device,
            platform=c.platform,
            country=c.country,
            region=c.region,
            campaign=c.campaign,
        ))
