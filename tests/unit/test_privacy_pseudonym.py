"""Pseudonymised user ids at ingest: same id, same pseudonym; the raw id in no output file,
store, lake, checkpoint or dead letter."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from privacy_data import TARGET, lake_bytes, lake_text, sqlite_bytes, write_input

from shopstream.cli import main
from shopstream.errors import ConfigError
from shopstream.events.decode import EventDecoder
from shopstream.events.pseudonym import KEY_ENV, Pseudonymiser, is_pseudonym, load_key

KEY = b"k3y-0123456789abcdef-unit"
LINE = b'{"eventType":"PAGE_VIEW","sessionId":"s1","userId":"%s","timestamp":1700000000000}'


def test_the_same_id_maps_to_the_same_pseudonym_and_keys_differ() -> None:
    one, two = Pseudonymiser(KEY), Pseudonymiser(KEY + b"!")
    assert one.pseudonym("alice") == Pseudonymiser(KEY).pseudonym("alice")
    assert one.pseudonym("alice") != one.pseudonym("alicf")
    assert one.pseudonym("alice") != two.pseudonym("alice")
    assert is_pseudonym(one.pseudonym("alice")) and not is_pseudonym("alice")
    assert "alice" not in repr(one) and KEY.decode() not in repr(one)
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        Pseudonymiser(b"short")


def test_the_decoder_pseudonymises_with_a_key_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert EventDecoder().decode(LINE % b"alice").user_id == "alice"
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    decoder = EventDecoder()
    event = decoder.decode(LINE % b"alice")
    assert event.user_id == Pseudonymiser(KEY).pseudonym("alice")
    assert decoder.decode(LINE % b"alice") == event  # deterministic
    assert EventDecoder(pseudonymiser=None).decode(LINE % b"alice").user_id == "alice"
    # A missing userId falls back to the session id, which is pseudonymised as the user.
    anonymous = decoder.decode(b'{"eventType":"PAGE_VIEW","sessionId":"s9","timestamp":5}')
    assert anonymous.user_id == Pseudonymiser(KEY).pseudonym("s9")
    assert anonymous.session_id == "s9"


@pytest.mark.parametrize("raw", [
    b'{"eventType":"TELEPORT","userId":"alice","sessionId":"s","timestamp":1}',
    b'{"eventType":"PAGE_VIEW","userId":1234567,"sessionId":"s"}',
    b'{"userId":"alice", not json',
    b'["alice"]',
    b'{"eventType":"PAGE_VIEW","userId":{"id":"alice"},"sessionId":"s","timestamp":1}',
])
def test_dead_letters_never_keep_the_raw_id(raw: bytes) -> None:
    redacted = Pseudonymiser(KEY).redact(raw)
    assert b"alice" not in redacted and b"1234567" not in redacted
    json.loads(redacted)  # still one JSON value a dead letter can carry


def test_a_key_file_is_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("  file-key-0123456789abcdef\n")
    assert load_key(tmp_path / "key", {KEY_ENV: "ignored"}) == b"file-key-0123456789abcdef"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_key(tmp_path / "empty", {})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_key(tmp_path / "missing", {})


def test_run_with_a_key_file_writes_the_raw_id_nowhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "placeholder-restored-after-the-test")
    (tmp_path / "key").write_bytes(KEY)
    src = write_input(tmp_path / "in.jsonl")
    out, ckpt, lake, db = (tmp_path / "out", tmp_path / "ckpt", tmp_path / "lake",
                           tmp_path / "features.db")
    code = main(["run", "--input", str(src), "--output-dir", str(out), "--store", str(db),
                 "--checkpoint-dir", str(ckpt), "--lake", str(lake), "--checkpoint-every",
                 "100", "--pseudonymise-key-file", str(tmp_path / "key"), "--no-progress",
                 "--json"])
    assert code == 0
    raw, alias = TARGET.encode(), Pseudonymiser(KEY).pseudonym(TARGET).encode()
    outputs = {p.name: p.read_bytes() for p in out.glob("*.jsonl")}
    written = [*outputs.values(), sqlite_bytes(db), lake_bytes(lake),
               lake_text(lake).encode(), (ckpt / "checkpoint.pkl").read_bytes(),
               pickle.dumps(pickle.loads((ckpt / "checkpoint.pkl").read_bytes()))]
    assert all(raw not in where for where in written)
    # ... while the pseudonym carries their history through the pipeline.
    assert alias in outputs["shopper-features.jsonl"] and alias in sqlite_bytes(db)
    letters = [json.loads(line) for line in outputs["dead-letter.jsonl"].splitlines()]
    kept = [json.loads(d["raw"]) for d in letters]
    assert kept[0]["userId"] == alias.decode() and kept[0]["eventType"] == "TELEPORT"
    assert kept[1] == "<redacted: 46 bytes, not a JSON object>"


def test_snowplow_dead_letters_keep_no_user_id() -> None:
    from shopstream.api.collector import _map_all

    p = Pseudonymiser(KEY)
    good = {"e": "pv", "p": "web", "tv": "js-3", "eid": "e1", "uid": "alice", "sid": "s1",
            "dtm": "1700000000000", "url": "https://shop.example/?u=alice"}
    bad = {"e": "nope", "uid": "alice", "duid": "d-alice", "sid": "s2",
           "cx": "eyJ1c2VyIjoiYWxpY2UifQ", "url": "https://shop.example/?u=alice"}
    events, letters, _ = _map_all([good, bad], "collector:tp2", p)
    assert [e.user_id for e in events] == [p.pseudonym("alice")]
    assert len(letters) == 1 and "alice" not in letters[0].raw
    assert p.pseudonym("alice") in letters[0].raw and p.pseudonym("d-alice") in letters[0].raw
    assert "eyJ1c2VyIjoiYWxpY2UifQ" not in letters[0].raw  # {"user":"alice"} in base64
