"""The shop simulator: a seeded catalog with hidden affinities and coherent shoppers.

``generate_events`` yields the canonical events of a run; ``write_jsonl`` writes them as
JSON lines (with malformed lines, ISO timestamps and disorder on request), as fast as
possible or paced live; ``build_catalog`` gives the ground truth (bundles, complements).

Examples
--------
>>> cfg = SimulationConfig(sessions=30, seed=9, end_ms=1_700_000_000_000)
>>> events = list(generate_events(cfg))
>>> len({e.session_id for e in events})
30
"""

from __future__ import annotations

from shopstream.sim.badlines import BadKind, bad_line
from shopstream.sim.catalog import Bundle, Catalog, Complement, Product, build_catalog
from shopstream.sim.config import SimulationConfig
from shopstream.sim.engine import SESSION_GAP_MS, Simulation, generate_events
from shopstream.sim.mix import MIX_TYPES, TARGET_SHARES
from shopstream.sim.wire import LineEncoder, format_iso_ms, generate_lines
from shopstream.sim.writer import SimulationSummary, write_jsonl

__all__ = [
    "MIX_TYPES",
    "SESSION_GAP_MS",
    "TARGET_SHARES",
    "BadKind",
    "Bundle",
    "Catalog",
    "Complement",
    "LineEncoder",
    "Product",
    "Simulation",
    "SimulationConfig",
    "SimulationSummary",
    "bad_line",
    "build_catalog",
    "format_iso_ms",
    "generate_events",
    "generate_lines",
    "write_jsonl",
]
