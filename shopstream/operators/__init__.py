"""Pure operators: one module each, no I/O, no wall clock, all state declared."""

from __future__ import annotations
