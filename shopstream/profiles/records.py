"""Output records of the Customer 360 operators: profiles, segment changes and counts.

Examples
--------
>>> import msgspec
>>> msgspec.json.encode(SegmentChange("u1", None, "browser", 30_000)).decode()
'{"userId":"u1","previous":null,"segment":"browser","at":30000}'
"""

from __future__ import annotations

import msgspec

from shopstream.profiles.actions import Lifetime, NextAction
from shopstream.profiles.engagement import SessionMetrics

__all__ = ["Account", "CustomerProfile", "SegmentChange", "SegmentCounts"]


class Account(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """What the shop's customer record says about the shopper (a ``CUSTOMER_CHANGE``
    from the shop database, :mod:`~shopstream.connectors.cdc_mapping`), as of event time
    ``updated_at``; a field the record leaves empty is ``None``."""

    updated_at: int
    country: str | None = None
    region: str | None = None
    device: str | None = None
    platform: str | None = None


class CustomerProfile(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """One shopper as of event time ``computed_at`` (built by the Customer 360 operator).

    ``preferences`` maps each dimension to its strongest values and their shares of the
    decayed weight; ``lifetime`` is ``None`` before the first order; ``merged_sessions``
    counts sessions with events that had no user id of their own (anonymous browsing
    joined at a login, or events of a logged-in session sent without the user id).
    ``rfm_segment`` is the RFM value segment (:mod:`~shopstream.profiles.segments`; days
    since the last order at ``computed_at``, orders, revenue), ``None`` before the first
    order; ``model_version`` the ``profile-models`` version whose lifetime-value models
    and RFM thresholds were used (0: the operator's static configuration). ``account``
    is the newest customer record of the shop database (``None`` when none came).
    """

    user_id: str
    computed_at: int
    first_seen: int
    last_seen: int
    events: int
    segment: str
    engagement: float
    sessions: SessionMetrics
    preferences: dict[str, list[tuple[str, float]]]
    orders: int
    revenue: float
    avg_order_value: float | None
    cart_items: int
    cart_value: float
    lifetime: Lifetime | None
    actions: tuple[NextAction, ...]
    merged_sessions: int = 0
    rfm_segment: str | None = None
    model_version: int = 0
    account: Account | None = None


class SegmentChange(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """A shopper moved from ``previous`` (``None``: first segment) to ``segment`` at ``at``
    (``None``: the profile's state was dropped)."""

    user_id: str
    previous: str | None
    segment: str | None
    at: int


class SegmentCounts(msgspec.Struct, frozen=True, rename="camel", gc=False):
    """Shoppers per segment in one key group as of ``computed_at``, and the counts one
    day earlier (``None`` until the group has a day of history); the API sums groups."""

    group: str
    computed_at: int
    counts: dict[str, int]
    day_ago: dict[str, int] | None = None
    #: How many key groups there are (the API reads them all).
    groups: int = 1
