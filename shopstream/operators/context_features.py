"""Shopper context per user: where from, on what, and how often the place changed.

Emitted at the time of an event that changes any of them:

* ``locations``: distinct ``country/region`` values seen (``country`` or ``region`` alone
  when only one is given), in first-seen order, the oldest dropped past
  ``max_context_values``;
* ``device_types``: distinct ``device`` values, the same way;
* ``latest_platform``: ``platform`` of the latest event that had one;
* ``region_changes``: how many times an event's location differed from the previous
  event's location (events without one are skipped).

The context is forgotten after ``context_idle_ms`` (24 hours) without an event.

Examples
--------
>>> from shopstream.events import EventType, ShopperEvent
>>> from shopstream.runners.embedded.harness import run_operator
>>> evs = [ShopperEvent(EventType.PAGE_VIEW, 0, "s", user_id="u", device="mobile",
...                     platform="ios", country="DE", region="BE"),
...        ShopperEvent(EventType.PAGE_VIEW, 10, "s", user_id="u", device="mobile",
...                     platform="ios", country="DE", region="BE"),
...        ShopperEvent(EventType.PAGE_VIEW, 20, "s", user_id="u", device="desktop",
...                     platform="web", country="FR")]
>>> for o in run_operator(ContextFeatures(), evs, key_by=lambda e: e.user_id):
...     print(o.record.computed_at, list(o.record.features.values()))
0 [['DE/BE'], ['mobile'], 'ios', 0]
20 [['DE/BE', 'FR'], ['mobile', 'desktop'], 'web', 1]
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from shopstream.events import streams
from shopstream.events.model import ShopperEvent
from shopstream.events.records import Output, ShopperFeatures
from shopstream.operators.feature_catalog import USER, FeaturesConfig
from shopstream.state import Context, KeyedOperator, ValueStateDescriptor

__all__ = ["ContextFeatures", "UserContext"]


class UserContext(msgspec.Struct, gc=False):
    """What is known of a shopper's context; ``timer_ms`` is the pending idle check."""

    last_ms: int
    timer_ms: int
    locations: list[str] = msgspec.field(default_factory=list)
    devices: list[str] = msgspec.field(default_factory=list)
    platform: str | None = None
    location: str | None = None
    region_changes: int = 0


_CONTEXT = ValueStateDescriptor[UserContext]("context")


class ContextFeatures(KeyedOperator[ShopperEvent]):
    """Keyed by user: the shopper-context features of the catalog (see module docs)."""

    name = "context-features"
    state_descriptors = (_CONTEXT,)

    def __init__(self, config: FeaturesConfig | None = None) -> None:
        self.config = config or FeaturesConfig()

    def process_element(self, element: ShopperEvent, ctx: Context) -> Iterable[Output]:
        country = element.country
        region = element.region
        device = element.device
        platform = element.platform
        if country is None and region is None and device is None and platform is None:
            return ()
        state = ctx.state(_CONTEXT)
        known = state.value()
        ts = element.timestamp_ms
        if known is None:
            known = UserContext(ts, ts + self.config.context_idle_ms)
            ctx.register_event_timer(known.timer_ms)
        else:
            # The idle timer is re-armed lazily in on_timer: no heap push per event.
            known.last_ms = ts
        changed = False
        if country or region:
            location = f"{country}/{region}" if country and region else (country or region or "")
            if location != known.location:
                if known.location is not None:
                    known.region_changes += 1
                known.location = location
                changed = True
                self._remember(known.locations, location)
        if device is not None and device not in known.devices:
            self._remember(known.devices, device)
            changed = True
        if platform is not None and platform != known.platform:
            known.platform = platform
            changed = True
        state.update(known)
        if not changed:
            return ()
        features = {"locations": list(known.locations), "device_types": list(known.devices),
                    "latest_platform": known.platform, "region_changes": known.region_changes}
        return (Output(streams.SHOPPER_FEATURES, ctx.key,
                       ShopperFeatures(USER, ctx.key, ts, features)),)

    def on_timer(self, timestamp_ms: int, ctx: Context) -> Iterable[Output]:
        state = ctx.state(_CONTEXT)
        known = state.value()
        if known is None:
            return ()
        deadline = known.last_ms + self.config.context_idle_ms
        if deadline > timestamp_ms:
            known.timer_ms = deadline
            ctx.register_event_timer(deadline)
            state.update(known)
        else:
            state.clear()
        return ()

    def _remember(self, values: list[str], value: str) -> None:
        if value not in values:
            values.append(value)
            if len(values) > self.config.max_context_values:
                del values[0]
