"""``shopstream simulate`` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopstream import cli
from shopstream.events.decode import EventDecoder


@pytest.fixture(autouse=True)
def only_simulate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other sub-commands are written in parallel; these tests must not depend on them.
    monkeypatch.setattr(cli, "COMMANDS", ("simulate",))


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["simulate", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--sessions", "--days", "--end", "--seed", "--rate", "--bad-rate",
                   "--disorder-ms", "--iso-timestamp-rate", "--output"):
        assert option in out


def test_writes_a_file_and_a_summary(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "out.jsonl"
    args = ["simulate", "--sessions", "40", "--end", "2024-06-01T00:00:00Z", "--seed", "5",
            "--no-progress", "-o", str(path)]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "from 40 sessions" in err and str(path) in err
    decoder = EventDecoder()
    events = [decoder.decode(line) for line in path.read_bytes().splitlines()]
    assert len({e.session_id for e in events}) == 40
    first = path.read_bytes()
    assert cli.main(args) == 0
    assert path.read_bytes() == first


def test_writes_to_stdout_by_default(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert cli.main(["simulate", "--sessions", "5", "--end", "1717200000000"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out.count(b"\n") > 5
    assert b"wrote" in captured.err and b"sessions" in captured.err
    assert b"sessions/s" not in captured.err  # no progress bar on stdout


def test_progress_bar_only_for_files(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "out.jsonl"
    assert cli.main(["simulate", "--sessions", "30", "--end", "1717200000000",
                     "-o", str(path)]) == 0
    err = capsys.readouterr().err
    assert "sessions/s" in err or "30/30" in err


def test_no_progress_bar_in_live_mode(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "live.jsonl"
    assert cli.main(["simulate", "--sessions", "3", "--rate", "2000", "-o", str(path)]) == 0
    err = capsys.readouterr().err
    assert "sessions/s" not in err and err.startswith("shopstream simulate: wrote")
    assert path.read_bytes().count(b"\n") > 3


@pytest.mark.parametrize(("args", "needle"), [
    (["--sessions", "0"], "--sessions must be an int >= 1, got 0"),
    (["--bad-rate", "1.5"], "--bad-rate must be a number in [0, 1), got 1.5"),
    (["--end", "next tuesday"], "--end 'next tuesday'"),
    (["--rate", "5", "--days", "2"], "--rate (live mode) cannot be combined"),
    (["-o", "/nonexistent-dir/x.jsonl"], "cannot be opened"),
])
def test_bad_values_exit_1_with_one_line(args: list[str], needle: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shopstream simulate: error: ")
    assert needle in err


def test_unparseable_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["simulate", "--sessions", "many"])
    assert info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
