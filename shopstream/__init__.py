"""shopstream: real-time shopper intelligence and recommendations for online shops.

The public Python API is :class:`Pipeline` (see :mod:`shopstream.facade`), plus the
names listed in ``__all__``; the sub-packages are the implementation (documented in the
API reference, but free to change between versions).

Examples
--------
>>> import shopstream
>>> result = shopstream.Pipeline().run([
...     {"eventType": "ADD_TO_CART", "sessionId": "s", "timestamp": 1700000000000,
...      "productId": "p", "price": 3.0}])
>>> [b["status"] for b in result.outputs("abandoned-baskets")]
['ABANDONED']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_exports

if TYPE_CHECKING:
    from shopstream.errors import ConfigError, DecodeError, ShopstreamError
    from shopstream.events.model import EventType, ShopperEvent
    from shopstream.facade import Pipeline, PipelineResult
    from shopstream.pipeline import PipelineConfig, default_topology
    from shopstream.topology import Stage, Topology

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DecodeError",
    "EventType",
    "Pipeline",
    "PipelineConfig",
    "PipelineResult",
    "ShopperEvent",
    "ShopstreamError",
    "Stage",
    "Topology",
    "__version__",
    "default_topology",
]

# Imported on first use (see shopstream.lazy): `shopstream --help` loads no operator.
__getattr__ = lazy_exports(__name__, {
    "ConfigError": "errors",
    "DecodeError": "errors",
    "EventType": "events.model",
    "Pipeline": "facade",
    "PipelineConfig": "pipeline",
    "PipelineResult": "facade",
    "ShopperEvent": "events.model",
    "ShopstreamError": "errors",
    "Stage": "topology",
    "Topology": "topology",
    "default_topology": "pipeline",
}, globals())
