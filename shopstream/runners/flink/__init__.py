"""The Flink runner: the same :class:`~shopstream.topology.Topology` as a PyFlink job.

The only package that imports PyFlink (lazily: importing this package works without it;
running a job needs ``pip install 'shopstream[flink]'``).
"""

from __future__ import annotations

from shopstream.runners.flink.errors import FlinkNotInstalledError, FlinkUnsupportedError
from shopstream.runners.flink.runner import (
    FlinkConfig,
    FlinkRunner,
    FlinkRunSummary,
    pyflink_available,
)

__all__ = ["FlinkConfig", "FlinkNotInstalledError", "FlinkRunSummary", "FlinkRunner",
           "FlinkUnsupportedError", "pyflink_available"]
