"""Catalog and account changes: reference data on their own stream, in event time but
never moving the watermark nor late; products out of stock are never recommended."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import ev, jsonl

from shopstream.events import streams
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.engine import Engine
from shopstream.runners.embedded.runner import EmbeddedRunner


def test_catalog_changes_skip_the_watermark_and_the_session_operators() -> None:
    outs: list[object] = []
    engine = Engine(default_topology(), 1_000, outs.append)
    engine.offer(ev("VIEW_PRODUCT", 10_000, "s1", product_id="p1"))
    # Stamped far in the future (a catalog edited "now" during a history replay) ...
    engine.offer(ev("PRODUCT_CHANGE", 99_000_000, "pg-catalog", product_id="p1", quantity=0))
    # ... it neither moves the watermark nor is late when stamped in the past.
    assert engine.watermark_ms == 10_000 - 1_000 - 1
    engine.offer(ev("CUSTOMER_CHANGE", 1, "pg-catalog", user_id="u9", country="DE"))
    assert engine.late_events == 0
    engine.finish()
    changes = [o for o in outs if o.stream == streams.CATALOG_CHANGES]  # type: ignore[attr-defined]
    # In event time: the one behind the watermark takes effect at it, so it comes first.
    assert [o.record.event_type for o in changes] == [  # type: ignore[attr-defined]
        "CUSTOMER_CHANGE", "PRODUCT_CHANGE"]
    # Only the shopper's session was tracked: catalog events open no session.
    assert engine.output_counts.get(streams.SESSIONS_ENDED) == 1


def test_products_out_of_stock_are_not_recommended_until_back(tmp_path: Path) -> None:
    events = []
    t = 0
    for session in ("a", "b", "c"):  # everyone views p1 then p2: p2 follows p1
        for product in ("p1", "p2"):
            t += 1_000
            events.append(ev("VIEW_PRODUCT", t, session, product_id=product))
    # The learned lists are published at the end of the 5-minute interval; shop later.
    t = 400_000
    events += [
        ev("VIEW_PRODUCT", t + 1_000, "d", product_id="p1"),
        ev("PRODUCT_CHANGE", t + 1_500, "pg-catalog", product_id="p2", quantity=0),
        ev("VIEW_PRODUCT", t + 2_000, "e", product_id="p1"),
        ev("PRODUCT_CHANGE", t + 2_500, "pg-catalog", product_id="p2", quantity=5),
        ev("VIEW_PRODUCT", t + 3_000, "f", product_id="p1"),
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(events))
    summary = EmbeddedRunner(default_topology(), tmp_path / "out").run(src)
    assert summary.outputs[streams.CATALOG_CHANGES] == 2
    recs = {r["sessionId"]: r["recommendedProducts"] for r in map(
        json.loads, (tmp_path / "out" / "product-recommendations.jsonl").read_text().splitlines())}
    assert "p2" in recs["d"]
    assert "p2" not in recs["e"]          # sold out
    assert "p2" in recs["f"]              # back in stock
    written = (tmp_path / "out" / "catalog-changes.jsonl").read_text().splitlines()
    assert [json.loads(line)["quantity"] for line in written] == [0, 5]
