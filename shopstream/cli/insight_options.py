"""``--profiles`` and ``--trends``: the optional insight stages of the pipeline.

Customer 360 profiles (:mod:`shopstream.operators.profiles`) and product and category
trends (:mod:`shopstream.operators.product_trends`) cost more CPU per event than the rest
of the pipeline together on a replay, so ``run`` leaves them off unless asked; ``serve``
keeps them on, so that its profile and trend endpoints answer.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_insight_arguments(parser, default=False)
>>> args = parser.parse_args(["--trends"])
>>> args.profiles, args.trends
(False, True)
"""

from __future__ import annotations

import argparse

__all__ = ["add_insight_arguments"]


def add_insight_arguments(parser: argparse.ArgumentParser, default: bool) -> None:
    """Add ``--profiles/--no-profiles`` and ``--trends/--no-trends``, both ``default``."""
    state = "on" if default else "off"
    parser.add_argument("--profiles", action=argparse.BooleanOptionalAction, default=default,
                        help="Customer 360 profiles, behavioural segments and next best "
                             f"actions (streams profiles, segment-changes; {state} by "
                             "default; see docs/profiles.md)")
    parser.add_argument("--trends", action=argparse.BooleanOptionalAction, default=default,
                        help="product and category trends (streams product-trends, "
                             f"category-trends; {state} by default; see docs/trends.md)")
