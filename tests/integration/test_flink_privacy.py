"""Pseudonymisation on the Flink runner: no raw user id in any output, dead letters included.

``shopstream run --engine flink --pseudonymise-key-file KEY`` decodes on the
TaskManager's Python workers; a line refused there keeps its bytes in ``dead-letter``
with the ``userId`` pseudonymised, as on the embedded runner (whose dead letters it must
equal). About 30 s: one mini-cluster job (needs the flink extra and Java 17).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.flink, pytest.mark.slow]

RAW_IDS = ("alice-raw-id", "bob-raw-id")
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _skip_reason() -> str | None:
    from shopstream.runners.flink import pyflink_available

    if not pyflink_available():
        return "PyFlink is not installed: pip install 'shopstream[flink]'"
    if shutil.which("java") is None:
        return "the Flink runner needs Java 17 on PATH"
    return None


def _run(engine: str, events: Path, key: Path, out: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shopstream.cli", "run", "--engine", engine, "--input",
         str(events), "--output-dir", str(out), "--pseudonymise-key-file", str(key),
         "--no-progress", "--no-recommendations"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_no_raw_user_id_reaches_any_flink_output(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    key = tmp_path / "key"
    key.write_text("k-0123456789abcdef-0123456789abcdef\n")
    lines = [
        {"eventType": "VIEW_PRODUCT", "timestamp": T0 + 1_000, "sessionId": "s1",
         "userId": RAW_IDS[0], "productId": "p1", "category": "Toys", "price": 5.0},
        {"eventType": "ADD_TO_CART", "timestamp": T0 + 2_000, "sessionId": "s1",
         "userId": RAW_IDS[0], "productId": "p1", "category": "Toys", "price": 5.0,
         "quantity": 1},
        # Refused by the decoder: an unknown event type, then a price that is not a number.
        {"eventType": "TELEPORT", "timestamp": T0 + 3_000, "sessionId": "s2",
         "userId": RAW_IDS[1]},
        {"eventType": "VIEW_PRODUCT", "timestamp": T0 + 4_000, "sessionId": "s2",
         "userId": RAW_IDS[1], "productId": "p2", "price": "cheap"},
        {"eventType": "PURCHASE", "timestamp": T0 + 900_000, "sessionId": "s1",
         "userId": RAW_IDS[0], "orderId": "o1",
         "items": [{"productId": "p1", "category": "Toys", "price": 5.0, "quantity": 1}]},
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    outputs = {}
    for engine in ("embedded", "flink"):
        out = tmp_path / engine
        _run(engine, events, key, out)
        written = {p.name: p.read_text() for p in sorted(out.glob("*.jsonl"))}
        for name, text in written.items():
            for raw in RAW_IDS:
                assert raw not in text, f"{engine}: {raw!r} in {name}"
        outputs[engine] = written
    letters = {e: sorted(outputs[e].get("dead-letter.jsonl", "").splitlines())
               for e in outputs}
    assert len(letters["embedded"]) == 2
    assert letters["flink"] == letters["embedded"]
