"""shopstream: real-time shopper intelligence and recommendations for online shops."""

from __future__ import annotations

__version__ = "0.1.0"
