"""Offline evaluation of the recommenders on real sessions: the static (session-rec) and
online protocols, blend-weight tuning on a validation split, HR@K / MRR@K / coverage /
latency."""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "harness",
    "metrics",
    "replay",
    "sessions",
    "tuning",
]
