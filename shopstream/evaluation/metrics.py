"""Accuracy and speed of one recommender over a replay: HR@K, MRR@K, coverage, latency.

Examples
--------
>>> m = Metrics(k=3)
>>> m.record(["a", "b", "c"], "b", 0.5)
>>> m.record(["a", "d"], "x", 1.5)
>>> r = m.result(catalog_size=10)
>>> r["hr"], r["mrr"], r["coverage"], r["latency_ms_median"]
(0.5, 0.25, 0.4, 1.0)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

__all__ = ["Metrics"]


class Metrics:
    """Running totals for one recommender."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.predictions = 0
        self.hits = 0
        self.reciprocal_ranks = 0.0
        self.recommended: set[str] = set()
        self.latencies_ms: list[float] = []

    def record(self, ranked: Sequence[str], target: str, latency_ms: float) -> None:
        """One prediction: the ranked products, the item that came next, the time taken."""
        top = ranked[:self.k]
        self.predictions += 1
        self.recommended.update(top)
        self.latencies_ms.append(latency_ms)
        for position, product in enumerate(top, start=1):
            if product == target:
                self.hits += 1
                self.reciprocal_ranks += 1 / position
                break

    def result(self, catalog_size: int) -> dict[str, Any]:
        """The report entry (rates in [0, 1], latencies in milliseconds)."""
        n = self.predictions
        lat = sorted(self.latencies_ms)
        return {
            "hr": round(self.hits / n, 4) if n else 0.0,
            "mrr": round(self.reciprocal_ranks / n, 4) if n else 0.0,
            "coverage": round(len(self.recommended) / catalog_size, 4) if catalog_size else 0.0,
            "latency_ms_median": round(statistics.median(lat), 4) if lat else 0.0,
            "latency_ms_p99": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 4)
            if lat else 0.0,
            "predictions": n,
        }
