"""Golden streams for the feature operators, checked against hand-computed values.

Input (``data/features/input.jsonl``), times in seconds after T0 (a 30 s slot boundary):
alice views p1 (Books, 20) at 5 and p2 (Books, 30) at 12, adds 2 x p2 at 20, browses Toys
at exactly 30 (a slot end: counted in slot 30, and out of the 5-minute window at 330
because windows are ``(B - W, B]``), removes one p2 (no price) at 40, searches at 45,
views p3 (Toys, 10) at 43 *arriving after* the search (out of order within the 5 s bound);
bob has a single page view at 60 (a bounce); alice views p1 again at 300 from France on a
desktop, then an event stamped 100 arrives (30 s behind the watermark: late, it must not
count anywhere, so its odd device, country and category must never appear); alice buys
one p2 for 30 at 320 and comes back at 2120, exactly 30 minutes after 320, which keeps
session a1 open (a session ends only when no event comes at or before last + 30 min).

Every expected value below was worked out by hand from those rules; the JSONL file beside
them is the same records as written by the runner, regenerated only with
``pytest --regen-golden``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from shopstream.events import EventDecoder
from shopstream.operators.context_features import ContextFeatures
from shopstream.operators.feature_catalog import FeaturesConfig
from shopstream.operators.history_features import HistoryFeatures
from shopstream.operators.rolling_features import RollingFeatures
from shopstream.operators.session_features import SessionFeatures
from shopstream.pipeline import PipelineConfig, by_session, by_user, default_topology
from shopstream.runners.embedded.harness import run_operator
from shopstream.runners.embedded.runner import EmbeddedRunner
from shopstream.state import KeyedOperator

DATA = Path(__file__).parent / "data" / "features"
T0 = 1_699_999_980_000
S = 1000

ROLLING_NAMES = ("product_view_count", "category_view_count", "cart_add_count",
                 "cart_remove_count", "cart_value", "avg_viewed_price", "price_range_viewed")
ZERO = (0, 0, 0, 0, 0.0, None, None)


def rolling(short: tuple[Any, ...], long: tuple[Any, ...]) -> dict[str, Any]:
    return {**{f"{n}_5min": v for n, v in zip(ROLLING_NAMES, short, strict=True)},
            **{f"{n}_1hr": v for n, v in zip(ROLLING_NAMES, long, strict=True)}}


ALL_SIX = (3, 1, 1, 1, 30.0, 20.0, 20.0)
ALL_SEVEN = (4, 1, 1, 1, 30.0, 20.0, 20.0)
AFTER_30 = (2, 0, 0, 1, 0.0, 15.0, 10.0)   # e5, e7, e8: the remove finds no add in window
ONLY_E8 = (1, 0, 0, 0, 0.0, 20.0, 0.0)
ROLLING = [
    ("alice", 30, rolling((2, 1, 1, 0, 60.0, 25.0, 10.0), (2, 1, 1, 0, 60.0, 25.0, 10.0))),
    ("alice", 60, rolling(ALL_SIX, ALL_SIX)),
    ("alice", 300, rolling(ALL_SEVEN, ALL_SEVEN)),
    ("alice", 330, rolling(AFTER_30, ALL_SEVEN)),     # e1..e4 (<= 30) left the 5 min window
    ("alice", 360, rolling(ONLY_E8, ALL_SEVEN)),
    ("alice", 600, rolling(ZERO, ALL_SEVEN)),         # e8 at exactly 300 is out of (300, 600]
    ("alice", 3630, rolling(ZERO, AFTER_30)),
    ("alice", 3660, rolling(ZERO, ONLY_E8)),
    ("alice", 3900, rolling(ZERO, ZERO)),
]


def session(duration: float, pages: int, bounce: bool, ratio: float,
            searches: int) -> dict[str, Any]:
    return {"session_duration": duration, "session_page_count": pages,
            "session_bounce": bounce, "session_cart_ratio": ratio,
            "session_search_count": searches}


SESSION = [
    ("a1", 30, session(25.0, 3, False, 0.5, 0)),
    ("a1", 60, session(40.0, 5, False, 0.3333, 1)),
    ("b1", 60, session(0.0, 1, True, 0.0, 0)),
    ("a1", 300, session(295.0, 6, False, 0.25, 1)),
    ("a1", 330, session(315.0, 6, False, 0.25, 1)),
    ("a1", 2130, session(2115.0, 7, False, 0.25, 1)),
]


def history(orders: int, value: float, avg: float | None, top: str | None,
            unique: int) -> dict[str, Any]:
    return {"orders_count_24hr": orders, "order_value_24hr": value,
            "avg_order_value_24hr": avg, "top_category_24hr": top,
            "unique_categories_24hr": unique}


DAY = 86_400
HISTORY = [
    ("alice", 30, history(0, 0.0, None, "Books", 2)),
    ("alice", 330, history(1, 30.0, 30.0, "Books", 2)),
    # At DAY + 30 e1..e4 leave but nothing visible changes: no emission.
    ("alice", DAY + 60, history(1, 30.0, 30.0, "Books", 1)),   # the last Toys touch (43) left
    ("alice", DAY + 330, history(0, 0.0, None, None, 0)),
]


def context(locations: list[str], devices: list[str], platform: str,
            changes: int) -> dict[str, Any]:
    return {"locations": locations, "device_types": devices, "latest_platform": platform,
            "region_changes": changes}


CONTEXT = [
    ("alice", 5, context(["DE/BE"], ["mobile"], "ios", 0)),
    ("alice", 300, context(["DE/BE", "FR"], ["mobile", "desktop"], "web", 1)),
    ("alice", 2120, context(["DE/BE", "FR"], ["mobile", "desktop"], "ios", 2)),
]


def _events() -> list[Any]:
    decoder = EventDecoder()
    return [decoder.decode(line) for line in (DATA / "input.jsonl").read_bytes().splitlines()]


def _emitted(operator: KeyedOperator[Any], key: Any) -> list[tuple[str, int, dict[str, Any]]]:
    outs = run_operator(operator, _events(), key_by=key,
                        sink_streams=("shopper-features", "late-events"))
    assert [o.record.event.event_id for o in outs if o.stream == "late-events"] == ["e9"]
    got = []
    for out in outs:
        if out.stream == "shopper-features":
            seconds, rest = divmod(out.record.computed_at - T0, S)
            assert rest == 0
            got.append((out.key, seconds, out.record.features))
    return got


@pytest.mark.parametrize(("operator", "key", "expected"), [
    (RollingFeatures(), by_user, ROLLING),
    (SessionFeatures(), by_session, SESSION),
    (HistoryFeatures(), by_user, HISTORY),
    (ContextFeatures(), by_user, CONTEXT),
], ids=["rolling", "session", "history", "context"])
def test_feature_operator_matches_hand_computed_values(
        operator: KeyedOperator[Any], key: Any,
        expected: list[tuple[str, int, dict[str, Any]]]) -> None:
    assert _emitted(operator, key) == expected


def test_pipeline_writes_the_golden_feature_stream(tmp_path: Path, regen_golden: bool) -> None:
    topology = default_topology(PipelineConfig(features=FeaturesConfig()))
    summary = EmbeddedRunner(topology, tmp_path).run(DATA / "input.jsonl")
    assert (summary.events, summary.late_events) == (12, 1)
    produced = (tmp_path / "shopper-features.jsonl").read_text()
    expected_path = DATA / "expected-shopper-features.jsonl"
    if regen_golden:
        expected_path.write_text(produced)
    assert produced == expected_path.read_text()
    records = [msgspec.json.decode(line) for line in produced.splitlines()]
    written = [(r["entity"], r["entityId"], (r["computedAt"] - T0) // S, r["features"])
               for r in records]
    hand = [("user", k, t, f) for k, t, f in ROLLING + HISTORY + CONTEXT]
    hand += [("session", k, t, f) for k, t, f in SESSION]
    for record in hand:
        assert record in written, record
    assert len(written) == len(hand)
