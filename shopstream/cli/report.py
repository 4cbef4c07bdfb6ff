"""Human-readable run summaries and progress bars shared by the commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from shopstream.events import streams
from shopstream.runners.embedded.runner import RunSummary

__all__ = ["byte_progress", "format_summary"]


@contextmanager
def byte_progress(total: int | None, label: str, enabled: bool = True,
                  ) -> Iterator[Callable[[int], None]]:
    """A tqdm bar over bytes read, shown on stderr when it is a terminal.

    Yields the callback to give the runner: it takes the byte offset reached.
    """
    bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
               disable=None if enabled else True, file=sys.stderr, leave=False)
    reached = [0]

    def update(offset: int) -> None:
        bar.update(offset - reached[0])
        reached[0] = offset

    try:
        yield update
    finally:
        bar.close()


# Summary lines of the insight streams, shown when the pipeline writes them.
_INSIGHTS = (
    ("carts abandoned", streams.CART_ABANDONMENT),
    ("fraud alerts", streams.FRAUD_ALERTS),
    ("revenue windows", streams.REVENUE_STATS),
    ("top-product windows", streams.TOP_PRODUCTS),
    ("rule changes", streams.BASKET_PATTERNS),
)


def format_summary(summary: RunSummary, out: TextIO | None = None) -> str:
    """The summary printed at the end of ``shopstream run`` and ``shopstream demo``."""
    outputs = summary.outputs
    completed = outputs.get(streams.BASKET_COMPLETIONS, 0)
    abandoned = outputs.get(streams.ABANDONED_BASKETS, 0)
    lines = [
        f"events in          {summary.lines:>12,}"
        + (f"   (resumed at line {summary.resumed_at_line:,})" if summary.resumed_at_line else ""),
        f"  decoded          {summary.events:>12,}",
        f"  dead letters     {summary.dead_letters:>12,}",
        f"  late events      {summary.late_events:>12,}",
        f"sessions           {summary.sessions:>12,}",
        f"baskets completed  {completed:>12,}",
        f"baskets abandoned  {abandoned:>12,}",
    ]
    for label, stream in _INSIGHTS:
        if stream in outputs:
            lines.append(f"{label:<19}{outputs[stream]:>12,}")
    lines += [
        f"throughput         {summary.events_per_second:>12,.0f} events/s "
        f"({summary.seconds:.2f} s)",
        "output streams:",
    ]
    width = max((len(s) for s in summary.files), default=0)
    for stream, path in sorted(summary.files.items()):
        lines.append(f"  {stream:<{width}}  {outputs.get(stream, 0):>10,}  {path}")
    text = "\n".join(lines)
    if out is not None:
        print(text, file=out)
    return text
