"""The embedded runner: one process, bounded-out-of-orderness watermarks, checkpoints.

:class:`~shopstream.runners.embedded.runner.EmbeddedRunner` runs a topology over a source
into files; :class:`~shopstream.runners.embedded.engine.Engine` is its event-time core.
The public way to run a pipeline from Python is :class:`shopstream.Pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_exports

if TYPE_CHECKING:
    from shopstream.runners.embedded.engine import Engine
    from shopstream.runners.embedded.harness import run_operator, run_topology
    from shopstream.runners.embedded.runner import EmbeddedRunner, RunnerConfig, RunSummary

__all__ = ["EmbeddedRunner", "Engine", "RunSummary", "RunnerConfig", "run_operator",
           "run_topology"]

# Imported on first use (see shopstream.lazy).
__getattr__ = lazy_exports(__name__, {
    "EmbeddedRunner": "runner",
    "Engine": "engine",
    "RunSummary": "runner",
    "RunnerConfig": "runner",
    "run_operator": "harness",
    "run_topology": "harness",
}, globals())
