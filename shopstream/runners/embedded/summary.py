"""What an embedded run did: the running counts saved with each checkpoint
(:class:`Tally`) and the summary a run returns (:class:`RunSummary`).

Examples
--------
>>> RunSummary(lines=10, events=9, dead_letters=1, late_events=0, sessions=2, outputs={},
...            seconds=2.0, output_dir="out", resumed_at_line=4).events_per_second
3.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RunSummary", "Tally"]


@dataclass(frozen=True)
class RunSummary:
    """What a run did; ``outputs`` counts records per stream over the whole run.

    ``sessions`` counts the sessions the basket tracker closed (at the end of the input,
    all of them), so the runner keeps no per-session memory of its own.
    """

    lines: int
    events: int
    dead_letters: int
    late_events: int
    sessions: int
    outputs: dict[str, int]
    seconds: float
    output_dir: str
    resumed_at_line: int = 0
    checkpoints: int = 0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return (self.lines - self.resumed_at_line) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Tally:
    """Running counts of a run, saved with each checkpoint (three integers)."""

    lines: int = 0
    dead_letters: int = 0
    checkpoints: int = 0
