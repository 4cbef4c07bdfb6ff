"""Recommenders (``learn_one`` / ``rank``) and their blending: pairs, session k-NN,
history, trending, popularity, published lists, and the suite that blends them."""

from __future__ import annotations

# The modules are the API of this package; each is imported on its own.
__all__ = [
    "anchor_lists",
    "base",
    "blend",
    "counts",
    "fusion",
    "heavy_hitters",
    "history",
    "pairs",
    "popularity",
    "published",
    "session_knn",
    "session_votes",
    "strategies",
    "suite",
    "training",
    "trending",
]
