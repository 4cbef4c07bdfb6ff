"""Runners: the embedded one (default, one process) and Flink (scale-out, the same
operators). The public way to run a pipeline is :class:`shopstream.Pipeline`."""

from __future__ import annotations

# Each module is imported on its own (some need an optional extra).
__all__ = [
    "embedded",
    "flink",
]
