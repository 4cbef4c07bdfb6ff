"""The fan-out of outputs to subscribers: which session or user an output is about, and
the message a subscriber receives. The WebSocket hub (``api/push.py``) and the Kafka
``websocket_fanout`` topic (``connectors/kafka_sink.py``) share it.

Examples
--------
>>> from shopstream.events.records import Output, ShopperFeatures
>>> out = Output("shopper-features", "u1", ShopperFeatures("user", "u1", 5, {"x": 1}))
>>> targets(out), message(out)["type"]
([('user', 'u1')], 'features')
"""

from __future__ import annotations

from typing import Any

import msgspec

from shopstream.events import streams
from shopstream.events.records import Output, ShopperFeatures

__all__ = ["KINDS", "PUSHED", "message", "targets"]

#: What a subscriber may follow.
KINDS = ("session", "user")

#: Streams pushed to subscribers, and the ``type`` of their messages.
PUSHED = {
    streams.SHOPPER_FEATURES: "features",
    streams.PRODUCT_RECOMMENDATIONS: "recommendations",
    streams.CART_ABANDONMENT: "alert",
    streams.FRAUD_ALERTS: "alert",
    streams.ABANDONED_BASKETS: "alert",
}


def targets(out: Output) -> list[tuple[str, str]]:
    """The (kind, id) pairs an output is about."""
    record = out.record
    if isinstance(record, ShopperFeatures):
        return [(record.entity, record.entity_id)]
    found = []
    session = getattr(record, "session_id", None)
    user = getattr(record, "user_id", None)
    if isinstance(session, str):
        found.append(("session", session))
    if isinstance(user, str):
        found.append(("user", user))
    if not found and out.stream == streams.PRODUCT_RECOMMENDATIONS:
        found.append(("session", out.key))
    return found


def message(out: Output) -> dict[str, Any]:
    """The JSON pushed to a subscriber for ``out``."""
    return {"type": PUSHED.get(out.stream, "event"), "stream": out.stream, "key": out.key,
            "record": msgspec.to_builtins(out.record)}
