from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopstream.cli import main

GOLDEN = Path(__file__).parents[1] / "golden" / "data"


def test_run_writes_the_insight_streams_and_summarises_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--input", str(GOLDEN / "fraud" / "input.jsonl"),
                 "--output-dir", str(tmp_path), "--no-progress", "--high-value", "2000",
                 "--stats-window", "5m", "--top-n", "1"])
    out = capsys.readouterr().out
    assert code == 0
    alerts = [json.loads(line)
              for line in (tmp_path / "fraud-alerts.jsonl").read_text().splitlines()]
    assert [a["amounts"] for a in alerts if a["rule"] == "HIGH_VALUE"] == [[2500.0]]
    windows = [json.loads(line)
               for line in (tmp_path / "revenue-stats.jsonl").read_text().splitlines()]
    assert {w["windowEnd"] - w["windowStart"] for w in windows} == {300_000}
    tops = [json.loads(line)
            for line in (tmp_path / "top-products.jsonl").read_text().splitlines()]
    assert max(len(t["byQuantity"]) for t in tops) == 1
    for label, count in (("fraud alerts", len(alerts)), ("revenue windows", len(windows)),
                         ("top-product windows", len(tops)), ("carts abandoned", 0)):
        line = next(x for x in out.splitlines() if x.startswith(label))
        assert line.split()[-1] == f"{count:,}", line
    assert (tmp_path / "cart-abandonment.jsonl").exists()


def test_abandonment_options(tmp_path: Path) -> None:
    data = GOLDEN / "abandonment" / "input.jsonl"
    assert main(["run", "--input", str(data), "--output-dir", str(tmp_path), "--no-progress",
                 "--abandon-minutes", "20", "--abandon-min-value", "200"]) == 0
    carts = [json.loads(line)
             for line in (tmp_path / "cart-abandonment.jsonl").read_text().splitlines()]
    # bob's headphones (150) and the carts under 200 are no longer watched; 20 minutes
    assert [(c["sessionId"], c["detectedAt"] - c["lastAddTime"]) for c in carts] == [
        ("ann-1", 1_200_000), ("eve-1", 1_200_000)]


def test_an_unknown_webhook_stream_is_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--input", str(GOLDEN / "fraud" / "input.jsonl"), "--output-dir",
                 str(tmp_path), "--webhook-url", "http://127.0.0.1:9/x", "--webhook-stream",
                 "fraud-alert"])
    err = capsys.readouterr().err
    assert code == 1 and "'fraud-alert' is not an output stream" in err
