"""shopstream.Pipeline: the public facade over topologies and runners."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import shopstream
from shopstream import ConfigError, Pipeline, PipelineConfig
from shopstream.events import EventType, ShopperEvent
from shopstream.pipeline import default_topology
from shopstream.runners.embedded.runner import EmbeddedRunner

T0 = 1_700_000_000_000


def _events() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(30):
        session = f"s{i}"
        t = T0 + i * 60_000
        rows.append({"eventType": "VIEW_PRODUCT", "sessionId": session, "userId": f"u{i % 7}",
                     "timestamp": t, "productId": f"p{i % 5}", "price": 3.0})
        rows.append({"eventType": "ADD_TO_CART", "sessionId": session, "userId": f"u{i % 7}",
                     "timestamp": t + 1_000, "productId": f"p{i % 5}", "price": 3.0,
                     "quantity": 1})
        if i % 3:
            rows.append({"eventType": "PURCHASE", "sessionId": session, "userId": f"u{i % 7}",
                         "timestamp": t + 2_000, "orderId": f"o{i}"})
    for n, row in enumerate(rows):
        row["eventId"] = f"e{n}"  # else derived from the line's bytes, which differ by form
    return rows


def test_public_names_are_exported() -> None:
    for name in shopstream.__all__:
        assert getattr(shopstream, name) is not None
    assert shopstream.Pipeline is Pipeline


def test_every_input_form_gives_the_same_outputs() -> None:
    rows = _events()
    as_dicts = Pipeline().run(rows)
    as_text = Pipeline().run(json.dumps(r) for r in rows)
    as_bytes = Pipeline().run(json.dumps(r).encode() for r in rows)
    decoded = [shopstream.ShopperEvent(**{  # the same events, built in Python
        "event_type": EventType(r["eventType"]), "timestamp_ms": r["timestamp"],
        "session_id": r["sessionId"], "user_id": r["userId"], "event_id": r["eventId"],
        "product_id": r.get("productId"), "price": r.get("price"),
        "quantity": r.get("quantity"), "order_id": r.get("orderId")}) for r in rows]
    as_events = Pipeline().run(decoded)
    assert as_dicts.counts()["basket-completions"] == 20
    for other in (as_text, as_bytes, as_events):
        for stream in as_dicts.streams():
            assert other.outputs(stream) == as_dicts.outputs(stream), stream


def test_outputs_equal_the_files_of_shopstream_run(tmp_path: Path) -> None:
    rows = _events()
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows) + "garbage\n")
    summary = EmbeddedRunner(default_topology(), tmp_path / "out").run(source)
    result = Pipeline().run([*rows, "garbage"])
    for stream, path in summary.files.items():
        if stream == "dead-letter":
            continue
        expected = [json.loads(line) for line in Path(path).read_text().splitlines()]
        assert result.outputs(stream) == expected, stream
    letter = result.outputs("dead-letter")[0]
    assert (letter["stage"], letter["raw"], letter["source"]) == ("decode", "garbage",
                                                                    "<python>")


def test_feed_in_parts_and_read_as_it_goes() -> None:
    rows = _events()
    pipeline = Pipeline(config=PipelineConfig(recommendations=None, trends=None))
    pipeline.feed(rows[:40])
    early = len(pipeline.outputs("basket-completions"))
    pipeline.feed(rows[40:])
    result = pipeline.finish()
    assert 0 < early < 20
    assert len(result.outputs("basket-completions")) == 20
    assert "product-recommendations" not in result.streams()
    with pytest.raises(ConfigError, match="after finish"):
        pipeline.feed(rows)


def test_late_event_goes_to_late_events() -> None:
    late = ShopperEvent(EventType.PAGE_VIEW, T0, "late")
    result = Pipeline(out_of_orderness_ms=0).run(
        [ShopperEvent(EventType.PAGE_VIEW, T0 + 60_000, "x"), late])
    assert [r.event for r in result.typed("late-events")] == [late]


def test_clear_errors() -> None:
    with pytest.raises(ConfigError, match="runner must be"):
        Pipeline(runner="spark")
    with pytest.raises(ConfigError, match="out_of_orderness_ms"):
        Pipeline(out_of_orderness_ms=-1)
    with pytest.raises(ConfigError, match="got int"):
        Pipeline().feed([42])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="no output stream 'nope'"):
        Pipeline().run([]).outputs("nope")


def _flink_missing() -> str | None:
    from shopstream.runners.flink import pyflink_available

    if not pyflink_available():
        return "PyFlink is not installed: pip install 'shopstream[flink]'"
    if shutil.which("java") is None:
        return "the Flink runner needs Java 17 on PATH"
    return None


@pytest.mark.flink
@pytest.mark.slow
def test_flink_runner_gives_the_embedded_outputs() -> None:
    reason = _flink_missing()
    if reason:
        pytest.skip(reason)
    rows = _events()
    config = PipelineConfig(recommendations=None, trends=None)
    embedded = Pipeline(config=config).run(rows)
    flink = Pipeline(config=config, runner="flink").run(rows)
    for stream in ("basket-completions", "abandoned-baskets", "fraud-alerts"):
        assert Counter(json.dumps(r, sort_keys=True) for r in flink.outputs(stream)) \
            == Counter(json.dumps(r, sort_keys=True) for r in embedded.outputs(stream)), stream
    assert flink.counts()["basket-completions"] == 20
