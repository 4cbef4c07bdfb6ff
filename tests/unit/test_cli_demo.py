from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopstream.cli import main


def test_demo_simulates_runs_and_reports(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--sessions", "400", "--seed", "5", "--output-dir", str(tmp_path),
                 "--no-progress", "--no-serve"])
    out = capsys.readouterr().out
    assert code == 0
    events = (tmp_path / "events.jsonl").read_bytes().splitlines()
    completions = (tmp_path / "streams" / "basket-completions.jsonl").read_bytes().splitlines()
    letters = (tmp_path / "streams" / "dead-letter.jsonl").read_bytes().splitlines()
    assert completions and all(json.loads(c)["status"] == "COMPLETED" for c in completions)
    for label, value in (("events in", len(events)), ("dead letters", len(letters)),
                         ("baskets completed", len(completions)), ("sessions", 400)):
        line = next(x for x in out.splitlines() if x.strip().startswith(label))
        assert line.split()[len(label.split())] == f"{value:,}", line
    assert "throughput" in out and "largest basket" in out
    assert (tmp_path / "checkpoints" / "checkpoint.pkl").exists()
