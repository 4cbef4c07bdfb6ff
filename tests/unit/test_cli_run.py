from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ev, jsonl

from shopstream.cli import main


def many_events(count: int, seed: int = 3) -> bytes:
    rnd = random.Random(seed)
    events = []
    ts = 1_700_000_000_000
    for i in range(count):
        ts += rnd.randint(1, 400)
        kind = rnd.choices(["VIEW_PRODUCT", "ADD_TO_CART", "REMOVE_FROM_CART", "PURCHASE"],
                           [50, 25, 10, 15])[0]
        events.append(ev(kind, ts, f"s{rnd.randint(0, 2000)}", product_id=f"p{i % 97}",
                         price=float(i % 13), quantity=1 + i % 3))
    return jsonl(events)


def cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shopstream.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def outputs(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.jsonl"))}


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    # The recommender makes the default pipeline ~2k events/s on this dense input: 20k
    # events leave time for kills mid-run without a slow test.
    src.write_bytes(many_events(20_000))
    assert main(["run", "--input", str(src), "--output-dir", str(tmp_path / "whole"),
                 "--no-progress"]) == 0
    rnd = random.Random(11)
    common = ["run", "--input", str(src), "--output-dir", str(tmp_path / "out"),
              "--checkpoint-dir", str(tmp_path / "ckpt"), "--checkpoint-every", "2000",
              "--no-progress", "--resume"]
    kills = 0
    for _ in range(3):
        proc = cli(*common)
        time.sleep(rnd.uniform(1.5, 3.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate()
    final = cli(*common)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert kills >= 1, "the run finished before any kill: make the input larger"
    assert outputs(tmp_path / "out") == outputs(tmp_path / "whole")


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--input", str(tmp_path / "nope.jsonl"), "--output-dir",
                 str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert "does not exist" in err and "Traceback" not in err
    code = main(["run", "--input", "-", "--output-dir", str(tmp_path / "o"), "--resume"])
    assert code == 1 and "--checkpoint-dir" in capsys.readouterr().err


def test_run_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--input", "--output-dir", "--checkpoint-dir", "--resume",
                   "--out-of-orderness-ms", "--session-gap-minutes"):
        assert option in text


def test_run_reads_standard_input(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "shopstream.cli", "run", "--input", "-",
                           "--output-dir", str(tmp_path), "--no-progress"],
                          input=many_events(500), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"events in" in proc.stdout
    assert (tmp_path / "basket-completions.jsonl").stat().st_size > 0


def test_a_blend_variant_is_a_command_line_change(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "events.jsonl"
    src.write_bytes(many_events(600))
    assert main(["run", "--input", str(src), "--output-dir", str(tmp_path / "b"),
                 "--no-progress", "--blend-weights", "NEXT_ITEM=1", "--blend-variant",
                 "next-only"]) == 0
    records = [json.loads(line) for line in
               (tmp_path / "b" / "product-recommendations.jsonl").read_text().splitlines()]
    assert records and {r["context"]["variant"] for r in records} == {"next-only"}
    sources = {s for r in records for s in r["context"]["sources"]}
    assert "NEXT_ITEM" in sources and sources <= {"NEXT_ITEM", "TRENDING", "POPULAR"}
    assert main(["run", "--input", str(src), "--output-dir", str(tmp_path / "c"),
                 "--no-recommendations", "--no-progress"]) == 0
    assert not (tmp_path / "c" / "product-recommendations.jsonl").exists()
    capsys.readouterr()
    assert main(["run", "--input", str(src), "--output-dir", str(tmp_path / "d"),
                 "--blend-weights", "NEXT_ITEM=lots"]) == 1
    assert "--blend-weights: the weight of NEXT_ITEM is not a number" in capsys.readouterr().err
